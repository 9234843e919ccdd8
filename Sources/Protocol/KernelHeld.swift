/// `type KernelHeld`: buffers that no process holds by an fd or a mapping — held by the
/// kernel alone (a driver, a buffer in flight in a socket message, a leak).
public struct KernelHeld: Sendable, Equatable {
    public var count: Int
    public var bytes: Int

    public init(count: Int, bytes: Int) {
        self.count = count
        self.bytes = bytes
    }
}

extension KernelHeld {
    /// Reads a KernelHeld from a reply; fields it does not know are ignored.
    public init(json: JSON, at path: String) throws(VarlinkError) {
        let reader = try ParameterReader(json, allowing: nil, path: path)
        self.init(count: try reader.int("count"), bytes: try reader.int("bytes"))
    }

    public var json: JSON {
        ["count": .integer(Int64(count)), "bytes": .integer(Int64(bytes))]
    }
}
