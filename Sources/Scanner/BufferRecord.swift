/// One buffer as the kernel holds it.
public struct BufferRecord: Sendable, Equatable {
    /// Inode number of the buffer's file; unique among live buffers.
    public var inode: UInt64
    public var size: UInt64
    /// The name's bytes before the NUL; empty when unnamed.
    public var name: [UInt8]
    /// The exporter's name's bytes before the NUL, e.g. "udmabuf".
    public var exporter: [UInt8]
    /// References to the buffer's file: one per fd and per mapping, and the kernel's own.
    public var references: UInt64

    public init(inode: UInt64, size: UInt64, name: [UInt8], exporter: [UInt8], references: UInt64 = 0) {
        self.inode = inode
        self.size = size
        self.name = name
        self.exporter = exporter
        self.references = references
    }
}
