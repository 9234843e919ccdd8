/// The reply of `Watch` and `Unwatch`: `-> (names: []string, prefixes: []string)`.
public struct WatchReply: MessageParameters {
    public var names: [String]
    public var prefixes: [String]

    public init(names: [String], prefixes: [String]) {
        self.names = names
        self.prefixes = prefixes
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(names: try reader.strings("names"), prefixes: try reader.strings("prefixes"))
    }

    public var parameters: [String: JSON] {
        ["names": .array(names.map(JSON.string)), "prefixes": .array(prefixes.map(JSON.string))]
    }
}

extension WatchReply: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.member("names") { $0.array(names) { $0.string($1) } }
            writer.member("prefixes") { $0.array(prefixes) { $0.string($1) } }
        }
    }
}
