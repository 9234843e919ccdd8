/// `type Cgroup`: what the processes of one cgroup v2 subtree hold.
public struct Cgroup: Sendable, Equatable {
    /// The cgroup's path from the hierarchy's root, e.g. `/kubepods.slice/…`.
    public var path: String
    /// Total size of the distinct buffers held anywhere in the subtree (each once).
    public var rss: Int
    /// The subtree's processes' pss, summed.
    public var pss: Int
    /// Distinct buffers held in the subtree.
    public var buffers: Int
    /// Processes in the subtree that hold a buffer.
    public var processes: Int

    public init(path: String, rss: Int, pss: Int, buffers: Int, processes: Int) {
        self.path = path
        self.rss = rss
        self.pss = pss
        self.buffers = buffers
        self.processes = processes
    }
}

extension Cgroup {
    /// Reads a Cgroup from a reply; fields it does not know are ignored.
    public init(json: JSON, at path: String) throws(VarlinkError) {
        let reader = try ParameterReader(json, allowing: nil, path: path)
        self.init(
            path: try reader.string("path"), rss: try reader.int("rss"), pss: try reader.int("pss"),
            buffers: try reader.int("buffers"), processes: try reader.int("processes"))
    }

    public var json: JSON {
        [
            "path": .string(path), "rss": .integer(Int64(rss)), "pss": .integer(Int64(pss)),
            "buffers": .integer(Int64(buffers)), "processes": .integer(Int64(processes)),
        ]
    }
}
