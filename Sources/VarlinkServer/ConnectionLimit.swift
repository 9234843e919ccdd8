/// A limit that turned a connection away as it was accepted.
public enum ConnectionLimit: Sendable, Equatable {
    /// `ConnectionLimits.maxConnections` connections were open.
    case total
    /// The peer's uid held as many connections as it may (the server's `connectionsPerUID`).
    case perUID
}
