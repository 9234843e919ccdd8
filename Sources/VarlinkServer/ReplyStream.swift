import DmabufProtocol

/// The replies of a `more` call that keeps running, such as a subscription.
///
/// The server asks `replies` for the next reply only once the peer has read every byte
/// sent to it before, so a producer that reports the latest state (not each event)
/// keeps nothing queued for a slow reader. A reply without `continues` ends the stream.
public struct ReplyStream: Sendable {
    public var replies: any AsyncSequence<Reply, Never> & Sendable
    /// Ends the stream of a peer that left replies unread for the given time; the
    /// connection is closed after it.
    public var stalled: @Sendable (Duration) -> Reply
    /// Ends the stream when the service stops.
    public var shuttingDown: Reply

    public init(
        replies: any AsyncSequence<Reply, Never> & Sendable, stalled: @escaping @Sendable (Duration) -> Reply,
        shuttingDown: Reply
    ) {
        self.replies = replies
        self.stalled = stalled
        self.shuttingDown = shuttingDown
    }
}
