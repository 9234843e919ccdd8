/// One exporter's buffers in one pass ("system", "udmabuf", a GPU driver).
public struct ExporterTotals: Sendable, Equatable {
    /// The exporter's name as the kernel holds it (at most 31 bytes; empty if it has none).
    public var name: [UInt8]
    public var count: UInt64
    public var bytes: UInt64

    public init(name: [UInt8], count: UInt64, bytes: UInt64) {
        self.name = name
        self.count = count
        self.bytes = bytes
    }
}
