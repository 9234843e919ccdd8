/// `type Process`: one process that holds DMA-BUFs, by an open file descriptor or a mapping.
public struct Process: Sendable, Equatable {
    /// The process (thread group) id, as the caller's pid namespace numbers it; 0 for a
    /// process outside that namespace.
    public var pid: Int
    /// Its effective uid.
    public var uid: Int
    /// Its command name (comm, at most 15 bytes).
    public var command: String
    /// Its cgroup v2 path from the root, e.g. `/system.slice/foo.service`.
    public var cgroup: String
    /// Total size of the distinct buffers it holds.
    public var rss: Int
    /// Each of those buffers' size divided by the processes that hold it (rounded down
    /// per buffer), summed.
    public var pss: Int
    /// Distinct buffers it holds.
    public var buffers: Int
    /// Its open fds that refer to DMA-BUFs; duplicates count.
    public var fds: Int
    /// Its mappings of DMA-BUFs.
    public var mappings: Int

    public init(
        pid: Int, uid: Int, command: String, cgroup: String, rss: Int, pss: Int, buffers: Int, fds: Int, mappings: Int
    ) {
        self.pid = pid
        self.uid = uid
        self.command = command
        self.cgroup = cgroup
        self.rss = rss
        self.pss = pss
        self.buffers = buffers
        self.fds = fds
        self.mappings = mappings
    }
}

extension Process {
    /// Reads a Process from a reply; fields it does not know are ignored.
    public init(json: JSON, at path: String) throws(VarlinkError) {
        let reader = try ParameterReader(json, allowing: nil, path: path)
        self.init(
            pid: try reader.int("pid"), uid: try reader.int("uid"), command: try reader.string("command"),
            cgroup: try reader.string("cgroup"), rss: try reader.int("rss"), pss: try reader.int("pss"),
            buffers: try reader.int("buffers"), fds: try reader.int("fds"), mappings: try reader.int("mappings"))
    }

    public var json: JSON {
        [
            "pid": .integer(Int64(pid)), "uid": .integer(Int64(uid)), "command": .string(command),
            "cgroup": .string(cgroup), "rss": .integer(Int64(rss)), "pss": .integer(Int64(pss)),
            "buffers": .integer(Int64(buffers)), "fds": .integer(Int64(fds)), "mappings": .integer(Int64(mappings)),
        ]
    }
}
