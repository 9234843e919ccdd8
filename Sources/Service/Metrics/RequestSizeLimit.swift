import NIOCore

/// More bytes arrived on a connection than a request may have.
struct RequestTooLarge: Error {}

/// Counts the bytes a client sends and passes on at most `maxBytes` of them, so neither
/// the HTTP decoder nor anything after it holds more than that for one connection (which
/// carries one request). Past the limit it reports `RequestTooLarge`, once, and drops the
/// rest.
final class RequestSizeLimit: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let maxBytes: Int
    private var received = 0

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard received <= maxBytes else { return }
        received += Self.unwrapInboundIn(data).readableBytes
        if received > maxBytes {
            context.fireErrorCaught(RequestTooLarge())
        } else {
            context.fireChannelRead(data)
        }
    }
}

@available(*, unavailable)
extension RequestSizeLimit: Sendable {}
