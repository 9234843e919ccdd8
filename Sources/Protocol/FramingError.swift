/// Why a byte stream cannot be read as messages any more. The peer is told with
/// `InvalidMessage` (`varlinkError`), and the connection is closed: what follows in the
/// stream cannot be trusted.
public enum FramingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// More than `limit` bytes arrived without a NUL.
    case messageTooLarge(limit: Int)
    /// A message started but its NUL did not arrive within `timeout` (the server's
    /// clock decides; `MessageFramer` itself has none).
    case messageUnfinished(timeout: Duration)
    /// The connection's unfinished message would take the bytes that every connection's
    /// unfinished messages may hold together past `limit` (the server's budget decides).
    case unfinishedMessagesOverBudget(limit: Int)

    public var description: String {
        switch self {
        case .messageTooLarge(let limit):
            return "message exceeds \(limit) bytes"
        case .messageUnfinished(let timeout):
            return "message not finished within \(Int(timeout / .milliseconds(1))) ms"
        case .unfinishedMessagesOverBudget(let limit):
            return "the service already holds \(limit) bytes of unfinished messages from its clients; "
                + "send each message whole, at once"
        }
    }

    /// The error reply that tells the peer, before the connection is closed.
    public var varlinkError: VarlinkError { .invalidMessage(reason: description) }
}
