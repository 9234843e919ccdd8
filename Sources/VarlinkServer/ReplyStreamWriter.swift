import DmabufProtocol
import DmabufSystem
import NIOCore
import ServiceLifecycle

/// Sends a `ReplyStream` down its connection no faster than the peer reads it.
///
/// The next reply is asked for only once the peer has read every byte sent to it (the
/// kernel's queue of unread bytes on the socket is empty), so a reader that stops costs
/// one reply of memory, not a backlog. A peer that leaves a reply unread for
/// `stallTimeout` gets the stream's stall reply and is disconnected.
struct ReplyStreamWriter {
    let channel: any Channel
    let stallTimeout: Duration
    let observer: any VarlinkServerObserver

    private enum Peer {
        case caughtUp
        case stalled
        /// The connection closed, or this task was cancelled.
        case gone
    }

    func run(_ stream: ReplyStream) async {
        var replies = stream.replies.makeAsyncIterator()
        while true {
            switch await waitForPeer() {
            case .gone:
                return
            case .stalled:
                // Fire and forget: if even this does not fit, closing discards it.
                channel.writeAndFlush(framed(stream.stalled(stallTimeout)), promise: nil)
                channel.close(promise: nil)
                return
            case .caughtUp:
                // The isolated next() keeps the sequence's typed `Never`; the plain one throws.
                guard let reply = await replies.next(isolation: nil) else {
                    // Cancelled while waiting for news: the connection or the service is ending.
                    if Task.isShuttingDownGracefully { _ = await send(stream.shuttingDown) }
                    return
                }
                guard await send(reply), reply.continues else { return }
            }
        }
    }

    /// Waits until the peer has read everything, checking often at first and then every
    /// 100 ms, for at most `stallTimeout`.
    private func waitForPeer() async -> Peer {
        let clock = ContinuousClock()
        let deadline = clock.now + stallTimeout
        var pause = Duration.milliseconds(1)
        while true {
            guard let unread = try? await unreadBytes() else { return .gone }
            if unread == 0 { return .caughtUp }
            if clock.now >= deadline { return .stalled }
            do { try await Task.sleep(for: pause) } catch { return .gone }
            pause = min(pause * 2, .milliseconds(100))
        }
    }

    /// Written to the socket, or false when the connection is gone.
    private func send(_ reply: Reply) async -> Bool {
        (try? await channel.writeAndFlush(framed(reply)).get()) != nil
    }

    private func framed(_ reply: Reply) -> ByteBuffer {
        observer.sending(reply)
        return ByteBuffer(bytes: reply.framed())
    }

    /// Bytes written to the socket that the peer has not read yet (`SO_MEMINFO`'s
    /// write allocation: a Unix socket's sent data stays charged to the sender until
    /// the receiver consumes it).
    private func unreadBytes() async throws -> UInt32 {
        guard let provider = channel as? any SocketOptionProvider else { throw ChannelError.operationUnsupported }
        let info: SocketMemoryInfo = try await provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_MEMINFO)
        ).get()
        return info.writeAllocated
    }
}

/// The kernel's `SO_MEMINFO` answer: `SK_MEMINFO_VARS` counters, in this order.
private struct SocketMemoryInfo {
    var receiveAllocated: UInt32 = 0
    var receiveBuffer: UInt32 = 0
    var writeAllocated: UInt32 = 0
    var sendBuffer: UInt32 = 0
    var forwardAllocated: UInt32 = 0
    var writeQueued: UInt32 = 0
    var optionMemory: UInt32 = 0
    var backlog: UInt32 = 0
    var drops: UInt32 = 0
}
