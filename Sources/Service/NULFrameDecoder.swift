import NIOCore

/// A message longer than the limit, seen before its terminating NUL arrived.
struct MessageTooLarge: Error {
    let limit: Int
}

/// Cuts the byte stream into Varlink messages at each NUL, refusing to buffer more than
/// `maxMessageBytes` of one message so a client cannot grow our memory without bound.
struct NULFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxMessageBytes: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let end = buffer.readableBytesView.firstIndex(of: 0) else {
            if buffer.readableBytes > maxMessageBytes { throw MessageTooLarge(limit: maxMessageBytes) }
            return .needMoreData
        }
        let length = end - buffer.readerIndex
        guard length <= maxMessageBytes else { throw MessageTooLarge(limit: maxMessageBytes) }
        let message = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        // A partial message at EOF has no one left to answer.
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.clear()
        return .needMoreData
    }
}
