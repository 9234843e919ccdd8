import DmabufProtocol

/// What a call produced: its one reply, or the replies of a `more` call that go on
/// while the connection serves other calls.
public enum Response: Sendable {
    case reply(Reply)
    case stream(ReplyStream)
}
