import DmabufSystem
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

@testable import DmabufService

/// What the server answered on one connection, read as raw bytes until it closed.
private struct RawReply {
    var status = 0
    /// Header names in lower case.
    var headers: [String: String] = [:]
    var body = ""
    /// Every byte received; empty when the server closed without answering.
    var raw = ""

    init(_ bytes: ByteBuffer) {
        raw = String(buffer: bytes)
        guard let split = raw.firstRange(of: "\r\n\r\n") else { return }
        // "\r\n" is one Character in Swift.
        let lines = raw[..<split.lowerBound].split(separator: "\r\n")
        status = lines.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts.count == 2 ? String(parts[1].drop { $0 == " " }) : ""
        }
        body = String(raw[split.upperBound...])
    }
}

private let quiet = Logger(label: "metrics-test") { _ in SwiftLogNoOpLogHandler() }
private let sample = "# TYPE dmabufd_up gauge\ndmabufd_up 1\n"
private let get = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

/// Counts calls, how many run at once and the most that did, for closures that outlive
/// a test's locals.
private final class Tally: Sendable {
    let current = Atomic<Int>(0)
    let most = Atomic<Int>(0)
    let total = Atomic<Int>(0)

    func enter() {
        total.add(1, ordering: .relaxed)
        most.max(current.add(1, ordering: .relaxed).newValue, ordering: .relaxed)
    }

    func leave() {
        current.subtract(1, ordering: .relaxed)
    }
}

private func portNumber(_ listener: TCPListener) -> Int {
    Int(listener.address.split(separator: ":").last!)!
}

/// Runs a server on a free loopback port for the length of `body`, then shuts it down
/// gracefully and waits for `run()` to return.
private func withServer(
    limits: MetricsHTTPServer.Limits = MetricsHTTPServer.Limits(),
    exposition: @escaping @Sendable () async throws -> String = { sample },
    _ body: (Int) async throws -> Void
) async throws {
    let listener = try MetricsAddress("127.0.0.1:0").bindListening()
    let server = MetricsHTTPServer(
        listener, exposition: exposition, limits: limits, group: MultiThreadedEventLoopGroup.singleton,
        logger: quiet)
    let group = ServiceGroup(services: [server], logger: quiet)
    try await withThrowingTaskGroup { tasks in
        tasks.addTask { try await group.run() }
        try await body(portNumber(listener))
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// Connects to `port`, sends `request` as it is, and reads until the server closes the
/// connection (a reset is taken as the close). Gives up after `patience`.
private func exchange(
    _ request: String, port: Int, host: String = "127.0.0.1", patience: Duration = .seconds(5)
) async throws -> RawReply {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    let giveUp = channel.channel.eventLoop.scheduleTask(in: TimeAmount(patience)) {
        channel.channel.close(promise: nil)
    }
    defer { giveUp.cancel() }
    let started = ContinuousClock.now
    defer {
        if ContinuousClock.now - started >= patience {
            Issue.record("the server did not close the connection within \(patience)")
        }
    }
    return try await channel.executeThenClose { inbound, outbound in
        // A server that turns the connection away may close it before the request is
        // sent: what it answered, if anything, is still read below.
        try? await outbound.write(ByteBuffer(string: request))
        var received = ByteBuffer()
        do {
            for try await chunk in inbound { received.writeImmutableBuffer(chunk) }
        } catch {}
        return RawReply(received)
    }
}

@Suite struct MetricsHTTPServerTests {
    // MARK: Serving

    @Test func getServesTheExpositionWithItsContentType() async throws {
        let calls = Tally()
        try await withServer(exposition: {
            calls.enter()
            return sample
        }) { port in
            let reply = try await exchange(get, port: port)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(reply.headers["content-length"] == String(sample.utf8.count))
            #expect(reply.headers["connection"] == "close")
            #expect(reply.body == sample)
            #expect(calls.total.load(ordering: .relaxed) == 1, "exposition() is called once per request")
        }
    }

    @Test func aQueryStringIsIgnoredAndHTTP10IsServed() async throws {
        try await withServer { port in
            let query = try await exchange("GET /metrics?name[]=x&y=1 HTTP/1.1\r\nHost: h\r\n\r\n", port: port)
            #expect(query.status == 200)
            #expect(query.body == sample)
            let old = try await exchange("GET /metrics HTTP/1.0\r\n\r\n", port: port)
            #expect(old.status == 200)
            #expect(old.body == sample)
        }
    }

    @Test func headSendsTheHeadersWithoutTheBody() async throws {
        try await withServer { port in
            let reply = try await exchange("HEAD /metrics HTTP/1.1\r\nHost: h\r\n\r\n", port: port)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(reply.headers["content-length"] == String(sample.utf8.count))
            #expect(reply.body == "")
        }
    }

    @Test func aLargeExpositionArrivesWhole() async throws {
        // Larger than the socket buffers: the connection must not close before it has left.
        let large = String(repeating: "dmabufd_buffer_bytes{name=\"x\"} 4096\n", count: 120_000)
        try await withServer(exposition: { large }) { port in
            let reply = try await exchange(get, port: port)
            #expect(reply.status == 200)
            #expect(reply.body.utf8.count == large.utf8.count)
            let whole = reply.body == large  // not in #expect, which would print 4 MB on failure
            #expect(whole)
        }
    }

    @Test(arguments: ["/", "/metricsx", "/metrics/", "/favicon.ico", "*"])
    func otherPathsAreNotFound(path: String) async throws {
        try await withServer { port in
            let reply = try await exchange("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n", port: port)
            #expect(reply.status == 404)
            #expect(reply.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(reply.body == "not found; metrics are served at /metrics\n")
        }
    }

    @Test func otherMethodsAreNotAllowed() async throws {
        try await withServer { port in
            for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
                let reply = try await exchange(
                    "\(method) /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}", port: port)
                #expect(reply.status == 405, "\(method)")
                #expect(reply.headers["allow"] == "GET, HEAD")
            }
        }
    }

    @Test func aFailingExpositionIsServiceUnavailable() async throws {
        struct Unloaded: Error, CustomStringConvertible {
            var description: String { "the BPF program is not loaded\nsecond line" }
        }
        try await withServer(exposition: { throw Unloaded() }) { port in
            let reply = try await exchange(get, port: port)
            #expect(reply.status == 503)
            #expect(reply.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(reply.body == "metrics unavailable: the BPF program is not loaded second line\n")
            let next = try await exchange(get, port: port)
            #expect(next.status == 503, "the server serves on")
        }
    }

    @Test func malformedRequestsAreBadRequests() async throws {
        try await withServer { port in
            let reply = try await exchange("this is not HTTP\r\n\r\n", port: port)
            #expect(reply.status == 400)
            #expect(try await exchange(get, port: port).status == 200)
        }
    }

    // MARK: Limits

    @Test func headersOverTheLimitAreRefusedAndTheServerServesOn() async throws {
        var limits = MetricsHTTPServer.Limits()
        limits.maxRequestBytes = 1024
        try await withServer(limits: limits) { port in
            let padding = String(repeating: "a", count: 1100)
            let reply = try await exchange("GET /metrics HTTP/1.1\r\nHost: h\r\nX-Pad: \(padding)\r\n\r\n", port: port)
            #expect(reply.status == 431)
            #expect(reply.body == "a request may be at most 1024 bytes\n")
            #expect(try await exchange(get, port: port).body == sample)
        }
    }

    @Test func aBodyOverTheLimitIsRefused() async throws {
        try await withServer { port in
            let body = String(repeating: "b", count: 9000)
            let reply = try await exchange(
                "POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 9000\r\n\r\n\(body)", port: port)
            #expect(reply.status == 413)
            #expect(reply.body == "a request may be at most 8192 bytes\n")
            #expect(try await exchange(get, port: port).body == sample)
        }
    }

    @Test func theSizeLimitPassesOnNoMoreThanTheLimitAndReportsOnce() async throws {
        let seen = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Recorder.Seen.self)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(RequestSizeLimit(maxBytes: 1000), Recorder(seen))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: server.localAddress!).get()
        for _ in 0..<20 {
            try await client.writeAndFlush(ByteBuffer(repeating: 0x61, count: 700)).get()
        }
        try await client.close()
        let result = try await seen.futureResult.get()
        // However the 14,000 bytes are cut into reads, the one that crosses 1000 and all
        // after it are dropped.
        #expect(result.bytes <= 1000)
        #expect(result.tooLarge == 1)
        try await server.close()
    }

    @Test func aRequestJustWithinTheLimitIsServed() async throws {
        var limits = MetricsHTTPServer.Limits()
        limits.maxRequestBytes = 1024
        try await withServer(limits: limits) { port in
            let head = "GET /metrics HTTP/1.1\r\nHost: h\r\nX-Pad: \r\n\r\n"
            let padding = String(repeating: "a", count: 1024 - head.utf8.count)
            let reply = try await exchange("GET /metrics HTTP/1.1\r\nHost: h\r\nX-Pad: \(padding)\r\n\r\n", port: port)
            #expect(reply.status == 200)
        }
    }

    @Test func aSlowClientIsClosedWhileOthersAreServed() async throws {
        var limits = MetricsHTTPServer.Limits()
        limits.requestTimeout = .milliseconds(300)
        try await withServer(limits: limits) { port in
            let clock = ContinuousClock()
            let started = clock.now
            async let slow = exchange("GET /metrics HTTP/1.1\r\nHost: h\r\n", port: port)
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await exchange(get, port: port).body == sample, "served while the slow one waits")
            let reply = try await slow
            let waited = clock.now - started
            #expect(reply.raw == "", "closed without an answer")
            #expect(waited >= .milliseconds(300))
            #expect(waited < .seconds(3))
        }
    }

    @Test func connectionsOverTheLimitAreClosedOnAccept() async throws {
        var limits = MetricsHTTPServer.Limits()
        limits.maxConnections = 2
        try await withServer(limits: limits, exposition: {
            try await Task.sleep(for: .milliseconds(600))
            return sample
        }) { port in
            async let first = exchange(get, port: port)
            async let second = exchange(get, port: port)
            try await Task.sleep(for: .milliseconds(200))
            let turnedAway = try await exchange(get, port: port)
            #expect(turnedAway.raw == "", "closed on accept")
            #expect(try await first.status == 200)
            #expect(try await second.status == 200)
            #expect(try await exchange(get, port: port).status == 200, "slots are freed")
        }
    }

    @Test func oneAddressTakesAtMostItsShareOfTheConnections() async throws {
        var limits = MetricsHTTPServer.Limits()
        limits.maxConnectionsPerAddress = 1
        try await withServer(limits: limits, exposition: {
            try await Task.sleep(for: .milliseconds(600))
            return sample
        }) { port in
            async let first = exchange(get, port: port)
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await exchange(get, port: port).raw == "", "a second from 127.0.0.1 is closed on accept")
            #expect(try await first.status == 200)
        }
    }

    @Test func sixtyFourConcurrentScrapesAreAllServed() async throws {
        let scrapes = Tally()
        var limits = MetricsHTTPServer.Limits()
        limits.maxConnectionsPerAddress = 64  // here every scrape comes from 127.0.0.1
        try await withServer(limits: limits, exposition: {
            scrapes.enter()
            defer { scrapes.leave() }
            try await Task.sleep(for: .milliseconds(100))
            return sample
        }) { port in
            let replies = try await withThrowingTaskGroup { group in
                for _ in 0..<64 { group.addTask { try await exchange(get, port: port) } }
                return try await group.reduce(into: [RawReply]()) { $0.append($1) }
            }
            #expect(replies.count == 64)
            #expect(replies.allSatisfy { $0.status == 200 && $0.body == sample })
            #expect(scrapes.most.load(ordering: .relaxed) > 1, "the requests overlapped")
        }
    }

    @Test func gracefulShutdownEndsOpenConnectionsAndReturns() async throws {
        let listener = try MetricsAddress("127.0.0.1:0").bindListening()
        let server = MetricsHTTPServer(
            listener, exposition: { try await Task.sleep(for: .seconds(30)); return sample },
            group: MultiThreadedEventLoopGroup.singleton, logger: quiet)
        let group = ServiceGroup(services: [server], logger: quiet)
        let running = Task { try await group.run() }
        let port = portNumber(listener)
        async let slow = exchange("GET /metrics HTTP/1.1\r\n", port: port)
        async let waiting = exchange(get, port: port)
        try await Task.sleep(for: .milliseconds(200))
        let clock = ContinuousClock()
        let started = clock.now
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(clock.now - started < .seconds(2), "neither the 10 s timeout nor the exposition held it up")
        #expect(try await slow.raw == "")
        _ = try await waiting  // ended, with a 503 or none: what matters is that it ended
        // The listener is closed: nobody answers on the port any more.
        await #expect(throws: (any Error).self) { try await exchange(get, port: port) }
    }

    // MARK: Address

    @Test(arguments: [
        ("127.0.0.1:9464", "127.0.0.1:9464"), ("0.0.0.0:0", "0.0.0.0:0"), ("[::1]:9464", "[::1]:9464"),
        ("[::]:65535", "[::]:65535"), ("[0:0::1]:80", "[0:0::1]:80"),
    ])
    func addressesThatParse(text: String, description: String) throws {
        #expect(try MetricsAddress(text).description == description)
    }

    @Test func addressesThatDoNotParseSayWhy() {
        let accepted =
            "write HOST:PORT with HOST a numeric IPv4 address (127.0.0.1, 0.0.0.0) or an IPv6 address in brackets "
            + "([::1], [::]) and PORT 0 to 65535 (0: any free port)"
        let notLookedUp = "is not a numeric IPv4 address, and host names are not looked up; \(accepted)"
        let cases: [(String, String)] = [
            ("localhost:9464", "\"localhost\" \(notLookedUp)"),
            ("127.1:9464", "\"127.1\" \(notLookedUp)"),
            (":9464", "\"\" \(notLookedUp)"),
            ("127.0.0.1", "no port; \(accepted)"),
            ("", "no port; \(accepted)"),
            ("127.0.0.1:", "the port must be a number from 0 to 65535; \(accepted)"),
            ("127.0.0.1:65536", "the port must be a number from 0 to 65535; \(accepted)"),
            ("127.0.0.1:-1", "the port must be a number from 0 to 65535; \(accepted)"),
            ("127.0.0.1:+80", "the port must be a number from 0 to 65535; \(accepted)"),
            ("127.0.0.1:http", "the port must be a number from 0 to 65535; \(accepted)"),
            ("::1:9464", "an IPv6 address goes in brackets, as in [::1]:9464"),
            ("[::1]", "the port must be a number from 0 to 65535; \(accepted)"),
            ("[127.0.0.1]:80", "[127.0.0.1] is not a numeric IPv6 address (no zone, no host name); \(accepted)"),
            ("[fe80::1%lo]:80", "[fe80::1%lo] is not a numeric IPv6 address (no zone, no host name); \(accepted)"),
        ]
        for (text, reason) in cases {
            #expect(throws: MetricsAddressError(text: text, reason: reason), "\(text)") { try MetricsAddress(text) }
        }
        let error = MetricsAddressError(text: "localhost:9464", reason: "why")
        #expect(error.description == "\"localhost:9464\" is not an address to serve metrics on: why")
    }

    @Test func bindingPortZeroReportsThePortTaken() throws {
        let listener = try MetricsAddress("127.0.0.1:0").bindListening()
        defer { close(listener.descriptor) }
        #expect(listener.address.hasPrefix("127.0.0.1:"))
        #expect(portNumber(listener) > 0)
        #expect(fcntl(listener.descriptor, F_GETFD) & FD_CLOEXEC != 0)
    }

    @Test func bindingAnAddressInUseFailsWithTheAddressAndReason() throws {
        let first = try MetricsAddress("127.0.0.1:0").bindListening()
        defer { close(first.descriptor) }
        let error = #expect(throws: MetricsListenerError.self) { try MetricsAddress(first.address).bindListening() }
        #expect(error?.error == Errno(EADDRINUSE))
        #expect(error?.description == "cannot serve metrics on \(first.address): Address already in use")
    }

    @Test(.enabled(if: hasIPv6Loopback(), "needs an IPv6 loopback address"))
    func anyIPv6AddressAlsoServesIPv4Clients() async throws {
        let listener = try MetricsAddress("[::]:0").bindListening()
        #expect(listener.address.hasPrefix("[::]:"))
        let server = MetricsHTTPServer(
            listener, exposition: { sample }, group: MultiThreadedEventLoopGroup.singleton, logger: quiet)
        let group = ServiceGroup(services: [server], logger: quiet)
        let running = Task { try await group.run() }
        #expect(try await exchange(get, port: portNumber(listener), host: "127.0.0.1").body == sample)
        #expect(try await exchange(get, port: portNumber(listener), host: "::1").body == sample)
        await group.triggerGracefulShutdown()
        try await running.value
    }
}

/// Sums the bytes that reach it and counts `RequestTooLarge`; says what it saw when the
/// connection closes.
private final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    struct Seen: Sendable {
        var bytes = 0
        var tooLarge = 0
    }

    private var seen = Seen()
    private let done: EventLoopPromise<Seen>

    init(_ done: EventLoopPromise<Seen>) {
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        seen.bytes += Self.unwrapInboundIn(data).readableBytes
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is RequestTooLarge { seen.tooLarge += 1 }
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(seen)
    }
}

/// Whether `[::1]` can be bound here (IPv6 may be off in a container).
private func hasIPv6Loopback() -> Bool {
    guard let listener = try? MetricsAddress("[::1]:0").bindListening() else { return false }
    close(listener.descriptor)
    return true
}
