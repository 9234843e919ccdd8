/// `type Match`: what one pass saw of one watched name or prefix.
public struct Match: Sendable, Equatable {
    /// The watched name, or the prefix.
    public var name: String
    /// A prefix watch: every buffer whose name starts with `name`.
    public var prefix: Bool
    /// `count > 0`.
    public var present: Bool
    /// Buffers that carry the name (or match the prefix).
    public var count: Int
    /// Their total size.
    public var bytes: Int
    /// The buffers themselves, only when details were asked for.
    public var buffers: [Buffer]?
    /// The processes that hold them, largest share first; only when holders were asked for.
    public var holders: [Holder]?

    public init(
        name: String, prefix: Bool, present: Bool, count: Int, bytes: Int, buffers: [Buffer]? = nil,
        holders: [Holder]? = nil
    ) {
        self.name = name
        self.prefix = prefix
        self.present = present
        self.count = count
        self.bytes = bytes
        self.buffers = buffers
        self.holders = holders
    }

    /// `present` follows from `count`.
    public init(name: String, prefix: Bool, count: Int, bytes: Int, buffers: [Buffer]? = nil, holders: [Holder]? = nil) {
        self.init(
            name: name, prefix: prefix, present: count > 0, count: count, bytes: bytes, buffers: buffers,
            holders: holders)
    }
}

extension Match {
    /// Reads a Match from a reply; fields it does not know are ignored.
    public init(json: JSON, at path: String = "match") throws(VarlinkError) {
        let reader = try ParameterReader(json, allowing: nil, path: path)
        self.init(
            name: try reader.string("name"), prefix: try reader.bool("prefix"), present: try reader.bool("present"),
            count: try reader.int("count"), bytes: try reader.int("bytes"),
            buffers: try reader.optional("buffers") { value, path throws(VarlinkError) in
                try ParameterReader.array(value, at: path) { element, path throws(VarlinkError) in
                    try Buffer(json: element, at: path)
                }
            },
            holders: try reader.optional("holders") { value, path throws(VarlinkError) in
                try ParameterReader.array(value, at: path) { element, path throws(VarlinkError) in
                    try Holder(json: element, at: path)
                }
            })
    }

    /// `buffers` and `holders` are left out when nil.
    public var json: JSON {
        var fields: [String: JSON] = [
            "name": .string(name), "prefix": .bool(prefix), "present": .bool(present),
            "count": .integer(Int64(count)), "bytes": .integer(Int64(bytes)),
        ]
        if let buffers { fields["buffers"] = .array(buffers.map(\.json)) }
        if let holders { fields["holders"] = .array(holders.map(\.json)) }
        return .object(fields)
    }
}

extension Match: JSONWritable {
    /// Members in key order: buffers, bytes, count, holders, name, prefix, present.
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            if let buffers { writer.member("buffers") { $0.array(buffers) { $1.write(to: &$0) } } }
            writer.member("bytes") { $0.integer(bytes) }
            writer.member("count") { $0.integer(count) }
            if let holders { writer.member("holders") { $0.array(holders) { $1.write(to: &$0) } } }
            writer.member("name") { $0.string(name) }
            writer.member("prefix") { $0.bool(prefix) }
            writer.member("present") { $0.bool(present) }
        }
    }
}
