/// `type Exporter`: one exporter's buffers in one pass.
public struct Exporter: Sendable, Equatable {
    /// The exporter, e.g. "system", "udmabuf", a GPU driver.
    public var name: String
    public var count: Int
    public var bytes: Int

    public init(name: String, count: Int, bytes: Int) {
        self.name = name
        self.count = count
        self.bytes = bytes
    }
}

extension Exporter {
    /// Reads an Exporter from a reply; fields it does not know are ignored.
    public init(json: JSON, at path: String) throws(VarlinkError) {
        let reader = try ParameterReader(json, allowing: nil, path: path)
        self.init(name: try reader.string("name"), count: try reader.int("count"), bytes: try reader.int("bytes"))
    }

    /// Reads the optional `?[]Exporter` field `field`.
    static func list(_ reader: ParameterReader, _ field: String) throws(VarlinkError) -> [Exporter]? {
        try reader.optional(field) { value, path throws(VarlinkError) in
            try ParameterReader.array(value, at: path) { element, path throws(VarlinkError) in
                try Exporter(json: element, at: path)
            }
        }
    }

    public var json: JSON {
        .object(["name": .string(name), "count": .integer(Int64(count)), "bytes": .integer(Int64(bytes))])
    }
}

extension Exporter: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.member("bytes") { $0.integer(bytes) }
            writer.member("count") { $0.integer(count) }
            writer.member("name") { $0.string(name) }
        }
    }
}
