import DmabufProtocol

/// What the server tells its owner as it works, so the owner can count it (the service's
/// metrics) without the server knowing what is counted. Called from any connection's task.
public protocol VarlinkServerObserver: Sendable {
    /// A reply is on its way to a client; error replies included.
    func sending(_ reply: Reply)
    /// A connection was turned away as it was accepted.
    func turnedAway(_ limit: ConnectionLimit)
}

/// An observer that counts nothing, for a server nobody measures.
public struct UnobservedServer: VarlinkServerObserver {
    public init() {}
    public func sending(_ reply: Reply) {}
    public func turnedAway(_ limit: ConnectionLimit) {}
}
