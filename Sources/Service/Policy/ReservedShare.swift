/// What only some uids may use (root, and any the policy names), so that no other user
/// can lock them out: a share of the kernel maps' capacity and of the connections.
public struct ReservedShare: Sendable, Equatable {
    /// Names and prefixes kept back.
    public var names: Int
    /// Connections kept back.
    public var connections: Int
    public var uids: Set<UInt32>

    public init(names: Int, connections: Int = 0, uids: Set<UInt32>) {
        self.names = names
        self.connections = connections
        self.uids = uids
    }

    /// What the built-in policy keeps for root: a sixteenth of the capacity (1,024 of the
    /// default 16,384) and of the connections (256 of the default 4,096).
    public static func builtIn(capacity: Int, connections: Int) -> ReservedShare {
        ReservedShare(names: capacity / 16, connections: connections / 16, uids: [0])
    }
}
