/// Cuts a byte stream into Varlink messages, each ended by one NUL byte: the one framer
/// of the project, used by the service for calls and by clients for replies.
///
/// Feed it what the socket gives (`append`), then take whole messages
/// (`nextMessage`) until it returns nil. A message longer than
/// `maximumMessageSize` is an error as soon as that many bytes have arrived
/// without a NUL: a peer cannot make us buffer without bound. Each byte is looked
/// at once however the stream is split, so trickling a message in costs no more
/// than sending it whole. After an error the stream cannot be trusted: close the
/// connection.
public struct MessageFramer: Sendable {
    /// 64 KiB: far more than any call of ours needs.
    public static let defaultMaximumMessageSize = 65_536

    /// The longest message accepted, its NUL not counted.
    public let maximumMessageSize: Int

    private var buffer: [UInt8] = []
    /// Where the first message not yet taken starts.
    private var start = 0
    /// Bytes in `buffer[start..<scanned]` are known not to be NUL.
    private var scanned = 0

    public init(maximumMessageSize: Int = MessageFramer.defaultMaximumMessageSize) {
        precondition(maximumMessageSize > 0, "a message size limit must be positive")
        self.maximumMessageSize = maximumMessageSize
    }

    /// Bytes received but not yet taken as a message.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Adds bytes as they came from the peer.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next whole message, without its NUL; nil until one has arrived.
    ///
    /// Throws `FramingError.messageTooLarge` for a message longer than the
    /// limit, whether or not its NUL has arrived; messages before it are
    /// returned first.
    public mutating func nextMessage() throws(FramingError) -> [UInt8]? {
        // Look for the NUL no further than one byte past the limit, and never look at a byte twice.
        let searchEnd = min(buffer.count, start + maximumMessageSize + 1)
        if let nul = buffer[scanned..<searchEnd].firstIndex(of: 0) {
            let message = Array(buffer[start..<nul])
            start = nul + 1
            scanned = start
            compact()
            return message
        }
        scanned = searchEnd
        if buffer.count - start > maximumMessageSize {
            throw .messageTooLarge(limit: maximumMessageSize)
        }
        return nil
    }

    /// Drops the bytes already taken once they are most of the buffer, so it neither grows nor copies much.
    private mutating func compact() {
        guard start > 0, start >= buffer.count / 2 else { return }
        buffer.removeSubrange(0..<start)
        scanned -= start
        start = 0
    }

    /// One outgoing message: the JSON text and its terminating NUL.
    public static func frame(_ message: some Sequence<UInt8>) -> [UInt8] {
        var framed = Array(message)
        framed.append(0)
        return framed
    }
}
