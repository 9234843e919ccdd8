import DmabufProtocol
import DmabufSystem
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The Unix-socket Varlink server: serves a socket bound for it (while the process could
/// still do that), accepts connections within the limits, reads each peer's
/// credentials, hands each connection to a `ConnectionSession`, and on graceful shutdown
/// stops accepting, ends every connection and removes its socket file.
public struct VarlinkServer: Service, CustomStringConvertible {
    private let listener: Listener
    private let dispatcher: VarlinkDispatcher
    private let limits: ConnectionLimits
    private let gate: ConnectionGate
    private let observer: any VarlinkServerObserver
    private let connectionsPerUID: @Sendable (PeerCredentials) -> Int?
    private let group: any EventLoopGroup
    private let notifier: ServiceManagerNotifier
    private let logger: Logger
    private let refusals: RefusalLog
    private let untaken: UntakenMessages

    /// - Parameters:
    ///   - listener: the bound, listening socket; the server closes it, and removes its
    ///     file when the socket is the service's own.
    ///   - connectionsPerUID: how many connections a peer's uid may hold at once (nil: no
    ///     limit beyond `limits.maxConnections`).
    ///   - observer: told of every reply sent and every connection turned away.
    ///   - untaken: counts the connections with a call on its way: read off the socket and
    ///     not yet taken by the session, or taken and not yet handed on or answered.
    public init(
        _ listener: Listener, dispatcher: VarlinkDispatcher, limits: ConnectionLimits,
        connectionsPerUID: @escaping @Sendable (PeerCredentials) -> Int?, observer: any VarlinkServerObserver,
        group: any EventLoopGroup, notifier: ServiceManagerNotifier, untaken: UntakenMessages = UntakenMessages(),
        logger: Logger
    ) {
        self.untaken = untaken
        self.listener = listener
        self.dispatcher = dispatcher
        self.limits = limits
        self.gate = ConnectionGate(
            maxConnections: limits.maxConnections, reservedConnections: limits.reservedConnections,
            reservedUIDs: limits.reservedUIDs)
        self.observer = observer
        self.connectionsPerUID = connectionsPerUID
        self.group = group
        self.refusals = RefusalLog(logger: logger)
        self.notifier = notifier
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
                            observer.turnedAway(refusal.limit)
                            refusals.notice(
                                "turned away a connection from \(accepted.peer): \(refusal)", uid: accepted.peer.uid)
                            accepted.channel.close(promise: nil)
                            continue
                        }
                        nextID += 1
                        let session = ConnectionSession(
                            accepted: accepted,
                            client: ClientContext(
                                connection: ConnectionID(nextID), peer: accepted.peer, backlog: accepted.backlog),
                            dispatcher: dispatcher, limits: limits, observer: observer, logger: logger,
                            release: { gate.leave(accepted.peer) })
                        group.addTask { await session.run() }
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
    private func adopt() async throws -> NIOAsyncChannel<AcceptedConnection, Never> {
        let limits = limits
        let budget = UnfinishedMessageBudget(limit: limits.maxUnfinishedBytes)
        let untaken = untaken
        do {
            return try await ServerBootstrap(group: group)
                // Nothing is read until the connection's task has wrapped the channel.
                .childChannelOption(.autoRead, value: false)
                .bind(listener.descriptor) { channel in
                    PeerCredentials.of(channel).flatMapThrowing { peer in
                        let backlog = ConnectionBacklog(counting: untaken)
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(
                                MessageFrameDecoder(
                                    maxMessageBytes: limits.maxMessageBytes, messageTimeout: limits.messageTimeout,
                                    budget: budget, backlog: backlog)))
                        return AcceptedConnection(channel: channel, peer: peer, backlog: backlog)
                    }
                }
        } catch {
            Descriptor.close(listener.descriptor)
            throw error
        }
    }
}
