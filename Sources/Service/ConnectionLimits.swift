/// What one connection may cost the service; each is a dmabufd option.
public struct ConnectionLimits: Sendable {
    /// The longest message; a longer one gets InvalidMessage and the connection closed.
    public var maxMessageBytes = 65_536
    /// How deep arrays and objects may nest in a message.
    public var maxJSONDepth = 32
    /// How long a started message may take to arrive whole; idle time between messages is free.
    public var messageTimeout = Duration.seconds(10)
    /// How long a subscriber may leave a reply unread before it is dropped.
    public var stallTimeout = Duration.seconds(60)
    /// Connections open at once, from everyone.
    public var maxConnections = 4096

    public init() {}
}
