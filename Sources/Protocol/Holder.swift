/// `type Holder`: one process that holds some of a match's buffers.
public struct Holder: Sendable, Equatable {
    public var pid: Int
    /// Its command name (comm).
    public var command: String
    /// Total size of the match's buffers it holds (each once, by fd or mapping).
    public var bytes: Int

    public init(pid: Int, command: String, bytes: Int) {
        self.pid = pid
        self.command = command
        self.bytes = bytes
    }
}

extension Holder {
    /// Reads a Holder from a reply; fields it does not know are ignored.
    public init(json: JSON, at path: String) throws(VarlinkError) {
        let reader = try ParameterReader(json, allowing: nil, path: path)
        self.init(pid: try reader.int("pid"), command: try reader.string("command"), bytes: try reader.int("bytes"))
    }

    public var json: JSON {
        ["pid": .integer(Int64(pid)), "command": .string(command), "bytes": .integer(Int64(bytes))]
    }
}

extension Holder: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.member("bytes") { $0.integer(bytes) }
            writer.member("command") { $0.string(command) }
            writer.member("pid") { $0.integer(pid) }
        }
    }
}
