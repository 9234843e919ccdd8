/// The share of the kernel maps' capacity that only some uids may use (root, and any the
/// policy names), so that no other user can fill the maps and lock them out.
public struct CapacityReserve: Sendable, Equatable {
    /// Names and prefixes kept back.
    public var names: Int
    public var uids: Set<UInt32>

    public init(names: Int, uids: Set<UInt32>) {
        self.names = names
        self.uids = uids
    }

    /// What the built-in policy keeps for root: a sixteenth of the capacity (1,024 of the
    /// default 16,384).
    public static func builtIn(capacity: Int) -> CapacityReserve {
        CapacityReserve(names: capacity / 16, uids: [0])
    }
}
