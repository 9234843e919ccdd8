import VarlinkServer

/// Why the service turned a client away.
public enum Denial: String, Sendable, CaseIterable {
    /// The policy does not grant the method.
    case method
    /// The policy grants the method, but not with details.
    case details
    /// `--max-connections` connections were open.
    case maxConnections = "max_connections"
    /// The peer's uid held as many connections as its policy allows.
    case uidConnections = "uid_connections"
}

extension Denial {
    /// The denial a connection limit of the server counts as.
    init(_ limit: ConnectionLimit) {
        switch limit {
        case .total: self = .maxConnections
        case .perUID: self = .uidConnections
        }
    }
}
