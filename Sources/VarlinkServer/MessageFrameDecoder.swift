import DmabufProtocol
import NIOCore

/// The protocol's `MessageFramer` in a connection's pipeline: bytes in, one message per
/// NUL out. It adds only what needs a clock: a message started must end within
/// `messageTimeout`, so a client can neither grow our memory (the framer's limit) nor
/// hold a half message forever.
struct MessageFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    private var framer: MessageFramer
    private let messageTimeout: Duration
    /// Armed while part of a message is buffered.
    private var deadline: Scheduled<Void>?

    init(maxMessageBytes: Int, messageTimeout: Duration) {
        self.framer = MessageFramer(maximumMessageSize: maxMessageBytes)
        self.messageTimeout = messageTimeout
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        framer.append(buffer.readableBytesView)
        buffer.moveReaderIndex(to: buffer.writerIndex)
        var took = false
        while let message = try framer.nextMessage() {
            took = true
            context.fireChannelRead(Self.wrapInboundOut(message))
        }
        // A message ended: the time of the next one counts from now.
        if took { disarmDeadline() }
        if framer.bufferedByteCount > 0, deadline == nil { armDeadline(context) }
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
