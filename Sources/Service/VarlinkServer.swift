import DmabufProtocol
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The Unix-socket Varlink server: serves a socket bound for it (while the process could
/// still do that), accepts connections within the limits, reads each peer's
/// credentials, answers the calls of one connection in order (a stream's replies go on
/// beside them, paced by how fast the peer reads), and on graceful shutdown stops
/// accepting, ends every connection and removes its socket file.
public struct VarlinkServer: Service, CustomStringConvertible {
    /// A connection as the listener hands it over, not yet wrapped (see `Channel.takenOver`).
    private struct Accepted: Sendable {
        let channel: any Channel
        let peer: PeerCredentials
    }

    private let listener: Listener
    private let dispatcher: VarlinkDispatcher
    private let limits: ConnectionLimits
    private let gate: ConnectionGate
    private let counters: ServiceCounters
    private let connectionsPerUID: @Sendable (PeerCredentials) -> Int?
    private let group: any EventLoopGroup
    private let notifier: ServiceManagerNotifier
    private let logger: Logger

    /// - Parameters:
    ///   - listener: the bound, listening socket; the server closes it, and removes its
    ///     file when the socket is the service's own.
    ///   - connectionsPerUID: how many connections a peer's uid may hold at once (nil: no
    ///     limit beyond `limits.maxConnections`).
    ///   - counters: where refused connections and error replies are counted.
    public init(
        _ listener: Listener, dispatcher: VarlinkDispatcher, limits: ConnectionLimits,
        connectionsPerUID: @escaping @Sendable (PeerCredentials) -> Int?, counters: ServiceCounters,
        group: any EventLoopGroup, notifier: ServiceManagerNotifier, logger: Logger
    ) {
        self.counters = counters
        self.notifier = notifier
        self.listener = listener
        self.dispatcher = dispatcher
        self.limits = limits
        self.gate = ConnectionGate(maxConnections: limits.maxConnections)
        self.connectionsPerUID = connectionsPerUID
        self.group = group
        self.logger = logger
    }

    public var description: String { "VarlinkServer(\(listener.path))" }

    public func run() async throws {
        defer { listener.file?.remove() }
        let accepting = try await adopt()
        logger.info("serving \(listener.path)\(listener.file == nil ? " (socket activation)" : "")")
        notifier.ready(status: "serving \(listener.path)")
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await accepting.executeThenClose { inbound in
                    var nextID: UInt64 = 0
                    for try await accepted in inbound {
                        if let refusal = gate.admit(accepted.peer, perUID: connectionsPerUID(accepted.peer)) {
                            counters.denied(refusal.denial)
                            logger.notice("turned away a connection from \(accepted.peer): \(refusal)")
                            accepted.channel.close(promise: nil)
                            continue
                        }
                        nextID += 1
                        let client = ClientContext(connection: ConnectionID(nextID), peer: accepted.peer)
                        group.addTask { await serve(accepted, client: client) }
                    }
                }
                // The listener is closed: end the connections still open.
                group.cancelAll()
            }
        } onGracefulShutdown: {
            notifier.stopping()
            accepting.channel.close(promise: nil)
        }
        logger.info("stopped serving \(listener.path)")
    }

    /// Hands the listening socket to NIO; every accepted connection gets its framing
    /// and its peer's credentials.
    private func adopt() async throws -> NIOAsyncChannel<Accepted, Never> {
        let limits = limits
        do {
            return try await ServerBootstrap(group: group)
                // Nothing is read until the connection's task has wrapped the channel.
                .childChannelOption(.autoRead, value: false)
                .bind(listener.descriptor) { channel in
                    peerCredentials(of: channel).flatMapThrowing { peer in
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(
                                NULFrameDecoder(
                                    maxMessageBytes: limits.maxMessageBytes, messageTimeout: limits.messageTimeout)))
                        return Accepted(channel: channel, peer: peer)
                    }
                }
        } catch {
            close(listener.descriptor)
            throw error
        }
    }

    /// Serves one connection until it closes. Never throws: one client's trouble is
    /// its own and must not reach the server or the other clients.
    private func serve(_ accepted: Accepted, client: ClientContext) async {
        logger.debug("connection \(client.connection) from \(client.peer)")
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await accepted.channel.takenOver(reading: ByteBuffer.self, writing: ByteBuffer.self)
        } catch {
            logger.debug("connection \(client.connection) closed before it was served: \(error)")
            accepted.channel.close(promise: nil)
            gate.leave(client.peer)
            return
        }
        await dispatcher.connected(client)
        do {
            try await channel.executeThenClose { inbound, outbound in
                // Streams (Subscribe) run beside the calls that follow them on the connection.
                try await withThrowingDiscardingTaskGroup { streams in
                    defer { streams.cancelAll() }
                    do {
                        for try await message in inbound {
                            let call: Call
                            do throws(VarlinkError) {
                                call = try Call(decoding: message.readableBytesView, maxDepth: limits.maxJSONDepth)
                            } catch {
                                // A message we cannot read leaves the stream's framing in doubt.
                                try await outbound.write(frame(Reply(error: error)))
                                return
                            }
                            switch await dispatcher.dispatch(call, from: client) {
                            case .reply(let reply):
                                if !call.oneway { try await outbound.write(frame(reply)) }
                            case .stream(let stream):
                                let writer = ReplyStreamWriter(
                                    channel: accepted.channel, stallTimeout: limits.stallTimeout, counters: counters)
                                streams.addTask { await writer.run(stream) }
                            }
                        }
                    } catch let error as any FramingError {
                        try await outbound.write(frame(Reply(error: .invalidMessage(reason: error.reason))))
                    }
                }
            }
        } catch {
            logger.debug("connection \(client.connection) ended: \(error)")
        }
        // Its slot is free before anyone can see it gone (Status counts clients).
        gate.leave(client.peer)
        await dispatcher.disconnected(client)
    }

    private func frame(_ reply: Reply) -> ByteBuffer {
        counters.sending(reply)
        return ByteBuffer(bytes: reply.framed())
    }
}

/// The kernel's `struct ucred` (pid_t, uid_t, gid_t), which Glibc's Swift module does not
/// export without _GNU_SOURCE.
private struct KernelPeerCredentials {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}

/// Reads `SO_PEERCRED` on a freshly accepted Unix socket.
private func peerCredentials(of channel: any Channel) -> EventLoopFuture<PeerCredentials> {
    guard let provider = channel as? any SocketOptionProvider else {
        return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
    }
    return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        .map { (credentials: KernelPeerCredentials) in
            PeerCredentials(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid)
        }
}
