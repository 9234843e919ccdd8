import DmabufProtocol
import NIOCore

/// The protocol's `MessageFramer` in a connection's pipeline: bytes in, one message per
/// NUL out. It adds what needs a clock or the other connections: a message started must
/// end within `messageTimeout`, so a client can neither grow our memory (the framer's
/// limit) nor hold a half message forever; what it buffers counts against the
/// `budget` all connections share; and each message it frames counts in `backlog` (a
/// call on its way) from then on.
struct MessageFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    private var framer: MessageFramer
    private let messageTimeout: Duration
    /// Armed while part of a message is buffered.
    private var deadline: Scheduled<Void>?
    private let budget: UnfinishedMessageBudget
    /// This connection's share of the budget: the bytes its framer holds.
    private var charged = 0
    private let backlog: ConnectionBacklog

    init(
        maxMessageBytes: Int, messageTimeout: Duration, budget: UnfinishedMessageBudget, backlog: ConnectionBacklog
    ) {
        self.framer = MessageFramer(maximumMessageSize: maxMessageBytes)
        self.messageTimeout = messageTimeout
        self.budget = budget
        self.backlog = backlog
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        // Charged before they are copied, so a refused connection costs no copy.
        let incoming = buffer.readableBytes
        guard budget.resize(from: charged, to: charged + incoming) else {
            throw FramingError.unfinishedMessagesOverBudget(limit: budget.limit)
        }
        charged += incoming
        framer.append(buffer.readableBytesView)
        buffer.moveReaderIndex(to: buffer.writerIndex)
        var took = false
        while let message = try framer.nextMessage() {
            took = true
            backlog.framed()
            context.fireChannelRead(Self.wrapInboundOut(message))
        }
        // A message ended: the time of the next one counts from now.
        if took { disarmDeadline() }
        let buffered = framer.bufferedByteCount
        _ = budget.resize(from: charged, to: buffered)  // what whole messages took is given back
        charged = buffered
        if buffered > 0, deadline == nil { armDeadline(context) }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        _ = try decode(context: context, buffer: &buffer)
        // A partial message at EOF has no one left to answer.
        disarmDeadline()
        return .needMoreData
    }

    mutating func decoderRemoved(context: ChannelHandlerContext) {
        disarmDeadline()
        _ = budget.resize(from: charged, to: 0)
        charged = 0
    }

    private mutating func armDeadline(_ context: ChannelHandlerContext) {
        let timeout = messageTimeout
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            context.fireErrorCaught(FramingError.messageUnfinished(timeout: timeout))
        }
    }

    private mutating func disarmDeadline() {
        deadline?.cancel()
        deadline = nil
    }
}
