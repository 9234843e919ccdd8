import NIOCore

/// Why the byte stream of a connection cannot be read as messages any more: the client
/// is sent `InvalidMessage` with this reason and the connection is closed.
protocol FramingError: Error {
    var reason: String { get }
}

/// A message longer than the limit, seen before its terminating NUL arrived.
struct MessageTooLarge: FramingError {
    let limit: Int
    var reason: String { "message exceeds \(limit) bytes" }
}

/// A message started but did not end (no NUL) in time.
struct MessageUnfinished: FramingError {
    let timeout: Duration
    var reason: String { "message not finished within \(Int(timeout / .milliseconds(1))) ms" }
}

/// Cuts the byte stream into Varlink messages at each NUL, refusing to buffer more than
/// `maxMessageBytes` of one message, or to wait longer than `messageTimeout` for its
/// end, so a client can neither grow our memory nor hold a half message forever.
struct NULFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxMessageBytes: Int
    let messageTimeout: Duration
    /// Armed while part of a message is buffered.
    private var deadline: Scheduled<Void>?

    init(maxMessageBytes: Int, messageTimeout: Duration) {
        self.maxMessageBytes = maxMessageBytes
        self.messageTimeout = messageTimeout
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let end = buffer.readableBytesView.firstIndex(of: 0) else {
            if buffer.readableBytes > maxMessageBytes { throw MessageTooLarge(limit: maxMessageBytes) }
            if buffer.readableBytes > 0, deadline == nil { armDeadline(context) }
            return .needMoreData
        }
        let length = end - buffer.readerIndex
        guard length <= maxMessageBytes else { throw MessageTooLarge(limit: maxMessageBytes) }
        let message = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        disarmDeadline()
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        // A partial message at EOF has no one left to answer.
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.clear()
        disarmDeadline()
        return .needMoreData
    }

    mutating func decoderRemoved(context: ChannelHandlerContext) {
        disarmDeadline()
    }

    private mutating func armDeadline(_ context: ChannelHandlerContext) {
        let timeout = messageTimeout
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            context.fireErrorCaught(MessageUnfinished(timeout: timeout))
        }
    }

    private mutating func disarmDeadline() {
        deadline?.cancel()
        deadline = nil
    }
}
