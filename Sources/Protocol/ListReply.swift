/// The reply of `List()`: `-> (buffers: []Buffer, scan: ScanInfo)`. `List`
/// takes no parameters: read them with `NoParameters`.
public struct ListReply: MessageParameters {
    public var buffers: [Buffer]
    public var scan: ScanInfo

    public init(buffers: [Buffer], scan: ScanInfo) {
        self.buffers = buffers
        self.scan = scan
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(
            buffers: try reader.required("buffers") { value, path throws(VarlinkError) in
                try ParameterReader.array(value, at: path) { element, path throws(VarlinkError) in
                    try Buffer(json: element, at: path)
                }
            },
            scan: try reader.required("scan") { value, path throws(VarlinkError) in
                try ScanInfo(json: value, at: path)
            })
    }

    public var parameters: [String: JSON] {
        ["buffers": .array(buffers.map(\.json)), "scan": scan.json]
    }
}

extension ListReply: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.member("buffers") { $0.array(buffers) { $1.write(to: &$0) } }
            writer.member("scan") { scan.write(to: &$0) }
        }
    }
}
