/// One entry the program counts buffers for: an exact name, or a prefix that every name
/// starting with it matches. Both are 1...31 bytes without NUL, as the kernel keeps names;
/// a name and a prefix with the same bytes are two entries.
public struct Watch: Hashable, Sendable, Comparable {
    public enum Kind: Hashable, Sendable {
        case name
        case prefix
    }

    public var kind: Kind
    /// The name's or prefix's bytes, as the kernel compares them.
    public var bytes: [UInt8]

    public init(kind: Kind, bytes: [UInt8]) {
        self.kind = kind
        self.bytes = bytes
    }

    public static func name(_ bytes: [UInt8]) -> Watch { Watch(kind: .name, bytes: bytes) }
    public static func prefix(_ bytes: [UInt8]) -> Watch { Watch(kind: .prefix, bytes: bytes) }

    /// The bytes as text. A watch is made from text, so this gives that text back exactly.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether a buffer named `name` (its bytes before the NUL) counts for this entry.
    public func matches(_ name: [UInt8]) -> Bool {
        kind == .name ? name == bytes : name.starts(with: bytes)
    }

    /// By bytes; for equal bytes the name before the prefix.
    public static func < (lhs: Watch, rhs: Watch) -> Bool {
        if lhs.bytes != rhs.bytes { return lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
        return lhs.kind == .name && rhs.kind == .prefix
    }
}
