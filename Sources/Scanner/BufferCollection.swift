/// Which buffers' records a pass collects (each costs a ring buffer slot).
public enum BufferCollection: Int, Comparable, Sendable {
    case none
    /// Buffers that matched a watched name or prefix: the details of a Scan.
    case matched
    /// Every buffer: List.
    case all

    public static func < (lhs: BufferCollection, rhs: BufferCollection) -> Bool { lhs.rawValue < rhs.rawValue }
}
