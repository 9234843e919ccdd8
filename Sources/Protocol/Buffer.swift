/// `type Buffer`: one buffer as the kernel holds it.
public struct Buffer: Sendable, Equatable {
    /// The inode number of the buffer's file; unique among live buffers.
    public var inode: Int
    /// Bytes.
    public var size: Int
    /// Set with DMA_BUF_SET_NAME; "" when unnamed.
    public var name: String
    /// The exporter's name, e.g. "udmabuf", "system".
    public var exporter: String
    /// References to the buffer's file: one per fd and per mapping, and the kernel's own
    /// (a driver, a socket message in flight). nil from a service that does not say.
    public var references: Int?

    public init(inode: Int, size: Int, name: String, exporter: String, references: Int? = nil) {
        self.inode = inode
        self.size = size
        self.name = name
        self.exporter = exporter
        self.references = references
    }

    /// From the kernel's fixed-size, NUL-padded name and exporter arrays; see `kernelString`.
    public init(
        inode: Int, size: Int, nameBytes: some Collection<UInt8>, exporterBytes: some Collection<UInt8>,
        references: Int? = nil
    ) {
        self.init(
            inode: inode, size: size, name: Buffer.kernelString(nameBytes),
            exporter: Buffer.kernelString(exporterBytes), references: references)
    }

    /// Kernel text as a String: the bytes up to the first NUL, decoded as
    /// UTF-8. The kernel does not check that names are UTF-8 (any bytes can
    /// be set), and JSON strings must be: each invalid byte sequence becomes
    /// U+FFFD, so such a name is shown, but cannot be matched exactly.
    public static func kernelString(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}

extension Buffer {
    /// Reads a Buffer from a reply; fields it does not know are ignored.
    /// `path` names it in errors (`buffers[3]`).
    public init(json: JSON, at path: String = "buffer") throws(VarlinkError) {
        let reader = try ParameterReader(json, allowing: nil, path: path)
        self.init(
            inode: try reader.int("inode"), size: try reader.int("size"), name: try reader.string("name"),
            exporter: try reader.string("exporter"), references: try reader.optionalInt("references"))
    }

    /// `references` is left out when nil.
    public var json: JSON {
        var fields: [String: JSON] = [
            "inode": .integer(Int64(inode)), "size": .integer(Int64(size)), "name": .string(name),
            "exporter": .string(exporter),
        ]
        if let references { fields["references"] = .integer(Int64(references)) }
        return .object(fields)
    }
}

extension Buffer: JSONWritable {
    /// Members in key order: exporter, inode, name, references, size.
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.member("exporter") { $0.string(exporter) }
            writer.member("inode") { $0.integer(inode) }
            writer.member("name") { $0.string(name) }
            if let references { writer.member("references") { $0.integer(references) } }
            writer.member("size") { $0.integer(size) }
        }
    }
}
