/// What the program counts buffers for: an exact name, or a prefix that every name
/// starting with it matches. Both are 1...31 bytes without NUL, as the kernel keeps names.
public struct WatchKey: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case name
        case prefix
    }

    public var kind: Kind
    public var bytes: [UInt8]

    public init(kind: Kind, bytes: [UInt8]) {
        self.kind = kind
        self.bytes = bytes
    }

    public static func name(_ bytes: [UInt8]) -> WatchKey { WatchKey(kind: .name, bytes: bytes) }
    public static func prefix(_ bytes: [UInt8]) -> WatchKey { WatchKey(kind: .prefix, bytes: bytes) }
}

/// Which buffers' records a pass collects (each costs a ring buffer slot).
public enum BufferCollection: Int, Comparable, Sendable {
    case none
    /// Buffers that matched a watched name or prefix: the details of a Scan.
    case matched
    /// Every buffer: List.
    case all

    public static func < (lhs: BufferCollection, rhs: BufferCollection) -> Bool { lhs.rawValue < rhs.rawValue }
}
