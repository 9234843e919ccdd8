/// The reply of `Scan`, and each reply of `Subscribe`: `-> (matches: []Match, scan: ScanInfo)`.
public struct ScanReply: MessageParameters {
    public var matches: [Match]
    public var scan: ScanInfo

    public init(matches: [Match], scan: ScanInfo) {
        self.matches = matches
        self.scan = scan
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    /// Errors name the field by its path, e.g. `matches[2].count`.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(
            matches: try reader.required("matches") { value, path throws(VarlinkError) in
                try ParameterReader.array(value, at: path) { element, path throws(VarlinkError) in
                    try Match(json: element, at: path)
                }
            },
            scan: try reader.required("scan") { value, path throws(VarlinkError) in
                try ScanInfo(json: value, at: path)
            })
    }

    public var parameters: [String: JSON] {
        ["matches": .array(matches.map(\.json)), "scan": scan.json]
    }
}

extension ScanReply: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.member("matches") { $0.array(matches) { $1.write(to: &$0) } }
            writer.member("scan") { scan.write(to: &$0) }
        }
    }
}
