import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
import VarlinkServer

import DmabufSystem

/// The Prometheus endpoint: serves `GET /metrics` (and `HEAD`) on a TCP socket bound for
/// it, and nothing else.
///
/// One request per connection: every response says `Connection: close` and the
/// connection is closed once it is sent. Prometheus scrapes at intervals of seconds, so a
/// new connection per scrape costs nothing that matters, and it keeps every limit a
/// limit on the connection: its bytes, its time, its slot.
///
/// | request                          | response                                  |
/// |----------------------------------|-------------------------------------------|
/// | `GET /metrics` (any query)       | 200, the exposition text                  |
/// | `HEAD /metrics`                  | 200, the same headers, no body            |
/// | another method on `/metrics`     | 405, `Allow: GET, HEAD`                   |
/// | another path                     | 404                                       |
/// | `exposition()` throws            | 503, why, in one line                     |
/// | not HTTP/1                       | 400                                       |
/// | more than `maxRequestBytes` sent | 431 (413 once the head was complete)      |
/// | request unfinished in `requestTimeout` | closed without a response           |
/// | `maxConnections` already open, or `maxConnectionsPerAddress` from its address | closed as it is accepted |
public struct MetricsHTTPServer: Service, CustomStringConvertible {
    /// What one client may cost the server.
    public struct Limits: Sendable {
        /// Bytes a client may send on its connection: request line, headers and any body.
        /// Past it the client gets 431 and the connection is closed; nothing buffers more.
        public var maxRequestBytes = 8192
        /// How long a client may take to send its whole request (a scraper sends it at
        /// once). Then the connection is closed, so a client that trickles bytes cannot
        /// keep its slot.
        public var requestTimeout = Duration.seconds(2)
        /// How long a client may take to take its response.
        public var timeout = Duration.seconds(10)
        /// Connections served at once; more are closed as they are accepted.
        public var maxConnections = 64
        /// Connections from one address at once, so that one host cannot take every slot
        /// from the scrapers.
        public var maxConnectionsPerAddress = 8

        public init() {}
    }

    /// The media type of Prometheus's text exposition format 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let listener: TCPListener
    private let exposition: @Sendable () async throws -> String
    private let limits: Limits
    private let open = OpenConnections()
    private let group: any EventLoopGroup
    private let logger: Logger
    /// Turned-away connections, a few lines at a time.
    private let refusals: RefusalLog

    /// - Parameters:
    ///   - listener: the bound, listening socket; the server closes it.
    ///   - exposition: the text to serve, made anew for each request (HEAD too, so its
    ///     Content-Length is true). What it throws is answered with 503.
    public init(
        _ listener: TCPListener, exposition: @escaping @Sendable () async throws -> String, limits: Limits = Limits(),
        group: any EventLoopGroup, logger: Logger
    ) {
        self.listener = listener
        self.exposition = exposition
        self.limits = limits
        self.group = group
        self.logger = logger
        self.refusals = RefusalLog(logger: logger)
    }

    public var description: String { "MetricsHTTPServer(http://\(listener.address)/metrics)" }

    /// Serves until graceful shutdown (or cancellation): then it stops accepting, closes the
    /// listener and ends the requests in flight — a scrape cut short is retried by
    /// Prometheus, while waiting for one could hold the shutdown up to `timeout`.
    public func run() async throws {
        let accepting = try await adopt()
        logger.info("serving metrics on http://\(listener.address)/metrics")
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await accepting.executeThenClose { inbound in
                    for try await channel in inbound {
                        let address = channel.remoteAddress?.ipAddress ?? ""
                        if let refusal = open.enter(from: address, limits: limits) {
                            let peer = channel.remoteAddress.map { "\($0)" } ?? "an unknown peer"
                            refusals.notice("turned away \(peer): \(refusal)", uid: 0)
                            channel.close(promise: nil)
                            continue
                        }
                        group.addTask {
                            await serve(channel)
                            open.leave(from: address)
                        }
                    }
                }
                // The listener is closed: end the connections still open.
                group.cancelAll()
            }
        } onGracefulShutdown: {
            accepting.channel.close(promise: nil)
        }
        logger.info("stopped serving metrics on http://\(listener.address)/metrics")
    }

    /// Hands the listening socket to NIO; every accepted connection gets the size limit in
    /// front of the HTTP/1 codec.
    private func adopt() async throws -> NIOAsyncChannel<any Channel, Never> {
        let maxRequestBytes = limits.maxRequestBytes
        do {
            return try await ServerBootstrap(group: group)
                // Nothing is read until the connection's task has wrapped the channel.
                .childChannelOption(.autoRead, value: false)
                .bind(listener.descriptor) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(RequestSizeLimit(maxBytes: maxRequestBytes))
                        // No pipelining help (one request per connection) and no automatic
                        // 400: every response, errors included, is written by `serve`, so
                        // two can never cross on one connection.
                        try pipeline.configureHTTPServerPipeline(
                            withPipeliningAssistance: false, withErrorHandling: false)
                        return channel
                    }
                }
        } catch {
            close(listener.descriptor)
            throw error
        }
    }

    /// Reads one request, answers it and closes the connection. Never throws: one client's
    /// trouble is its own and must not reach the server or the other clients.
    private func serve(_ channel: any Channel) async {
        do {
            let connection = try await channel.takenOver(reading: HTTPServerRequestPart.self, writing: Never.self)
            try await connection.executeThenClose { inbound in
                let response: HTTPAnswer
                switch await closing(channel, after: limits.requestTimeout, { await readRequest(inbound) }) {
                case .request(let head): response = await answer(head)
                case .refused(let refusal): response = refusal
                case .closed: return
                }
                try await closing(channel, after: limits.timeout) { try await send(response, on: channel) }
            }
        } catch {
            logger.debug("metrics connection ended: \(error)")
            channel.close(promise: nil)
        }
    }

    private enum Received {
        /// A whole request arrived; this is its head (a body is read and dropped).
        case request(HTTPRequestHead)
        /// The request cannot be served: too large or not HTTP.
        case refused(HTTPAnswer)
        /// The connection closed, or timed out, before a request ended.
        case closed
    }

    private func readRequest(_ inbound: NIOAsyncChannelInboundStream<HTTPServerRequestPart>) async -> Received {
        var head: HTTPRequestHead?
        do {
            for try await part in inbound {
                switch part {
                case .head(let started): head = started
                case .body: continue
                case .end: return head.map { .request($0) } ?? .closed
                }
            }
        } catch is RequestTooLarge {
            // A body over the limit is "content too large"; a head over it, "header fields".
            let status: HTTPResponseStatus = head == nil ? .requestHeaderFieldsTooLarge : .payloadTooLarge
            return .refused(HTTPAnswer(status, "a request may be at most \(limits.maxRequestBytes) bytes\n"))
        } catch is HTTPParserError {
            return .refused(HTTPAnswer(.badRequest, "not an HTTP/1 request\n"))
        } catch {
            logger.debug("metrics connection ended before its request: \(error)")
        }
        return .closed
    }

    private func answer(_ request: HTTPRequestHead) async -> HTTPAnswer {
        var response = await route(request)
        response.omitsBody = request.method == .HEAD
        return response
    }

    private func route(_ request: HTTPRequestHead) async -> HTTPAnswer {
        guard request.uri.prefix(while: { $0 != "?" }) == "/metrics" else {
            return HTTPAnswer(.notFound, "not found; metrics are served at /metrics\n")
        }
        guard request.method == .GET || request.method == .HEAD else {
            var response = HTTPAnswer(.methodNotAllowed, "/metrics answers GET and HEAD only\n")
            response.allow = "GET, HEAD"
            return response
        }
        do {
            var response = HTTPAnswer(.ok, try await exposition())
            response.contentType = Self.contentType
            return response
        } catch {
            let reason = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            if Task.isCancelled {
                logger.debug("metrics request ended by shutdown: \(reason)")
            } else {
                logger.warning("cannot serve metrics: \(reason)")
            }
            return HTTPAnswer(.serviceUnavailable, "metrics unavailable: \(reason)\n")
        }
    }

    /// Writes the response and waits until it has left: `executeThenClose` closes the
    /// channel at once, which would drop whatever the socket had not yet taken.
    private func send(_ response: HTTPAnswer, on channel: any Channel) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.utf8.count))
        headers.add(name: "Connection", value: "close")
        if let allow = response.allow { headers.add(name: "Allow", value: allow) }
        let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        if !response.omitsBody {
            channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: response.body))), promise: nil)
        }
        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
    }

    /// Runs `body`, closing the connection if it takes longer than `timeout`.
    private func closing<Value>(_ channel: any Channel, after timeout: Duration, _ body: () async throws -> Value)
        async rethrows -> Value
    {
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { channel.close(promise: nil) }
        defer { timer.cancel() }
        return try await body()
    }

    /// One response: a status and a short body (or the exposition), always `Connection: close`.
    private struct HTTPAnswer {
        var status: HTTPResponseStatus
        var body: String
        var contentType = "text/plain; charset=utf-8"
        /// The `Allow` header of a 405.
        var allow: String?
        /// HEAD: the headers of the response, Content-Length included, but not its body.
        var omitsBody = false

        init(_ status: HTTPResponseStatus, _ body: String) {
            self.status = status
            self.body = body
        }
    }
}

/// Connections being served, in all and by address. Only the accept loop enters; the
/// connections' tasks only leave, which lowers the counts, so checking then adding cannot
/// let one past a limit.
private final class OpenConnections: Sendable {
    private struct Counts {
        var total = 0
        var byAddress: [String: Int] = [:]
    }

    private let counts = Mutex(Counts())

    /// Counts a connection from `address` in; why not (and not counted) when a limit is full.
    func enter(from address: String, limits: MetricsHTTPServer.Limits) -> String? {
        counts.withLock { counts in
            if counts.total >= limits.maxConnections { return "\(limits.maxConnections) metrics connections are open" }
            let mine = counts.byAddress[address, default: 0]
            if mine >= limits.maxConnectionsPerAddress {
                return "\(mine) metrics connections from \(address) are open"
            }
            counts.total += 1
            counts.byAddress[address] = mine + 1
            return nil
        }
    }

    func leave(from address: String) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.byAddress[address, default: 1] - 1
            counts.byAddress[address] = left == 0 ? nil : left
        }
    }
}
