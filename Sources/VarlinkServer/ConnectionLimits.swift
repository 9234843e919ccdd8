import DmabufProtocol

/// What one connection may cost the server. The defaults here are the service's defaults
/// (dmabufd's options start from them); the message size and depth come from the protocol.
public struct ConnectionLimits: Sendable {
    /// The longest message; a longer one gets InvalidMessage and the connection closed.
    public var maxMessageBytes = MessageFramer.defaultMaximumMessageSize
    /// How deep arrays and objects may nest in a message.
    public var maxJSONDepth = JSON.defaultMaxDepth
    /// How long a started message may take to arrive whole; idle time between messages is free.
    public var messageTimeout = Duration.seconds(10)
    /// How long a stream's reader may leave a reply unread before it is dropped.
    public var stallTimeout = Duration.seconds(60)
    /// Connections open at once, from everyone.
    public var maxConnections = 4096
    /// Of those, how many only `reservedUIDs` may take, so that no other user can lock
    /// them out by opening connections.
    public var reservedConnections = 0
    public var reservedUIDs: Set<UInt32> = []
    /// Bytes of unfinished messages all connections may hold together. With every
    /// connection holding one, a release build peaks near 110 MiB (docs/hardening.md).
    public var maxUnfinishedBytes = 4 << 20

    public init() {}
}
