import ArgumentParser
import DmabufProtocol
import DmabufScanner
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import VarlinkServer

import DmabufSystem

/// `dmabufd`'s options, and its two phases: `prepare` does what needs privileges while
/// the process has one thread (load the program, bind the socket) and then gives them up;
/// `serve` runs the service until SIGTERM or SIGINT.
public struct DaemonCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dmabufd",
        abstract: "Watch DMA-BUF buffers by name and answer local clients over Varlink.",
        discussion: """
            dmabufd loads one BPF program that walks every DMA-BUF in the kernel (Linux 6.16 or \
            newer) and serves the Varlink interface io.dmabufd.Monitor on a Unix socket. Any local \
            user may connect. Watches belong to a connection and end with it.

            Who may do what: by default root may call every method; every other user every method \
            but List and Metrics, with at most --client-quota names and prefixes per connection and 128 \
            connections per uid. --policy replaces that with a JSON file (see dmabufd(8)).

            It must start as root (CAP_BPF and CAP_PERFMON load the program). Once the program is \
            loaded and the socket bound it drops every capability and sets no_new_privs: running \
            the loaded program needs none. SIGTERM or SIGINT stop it cleanly: it stops accepting, \
            ends every connection (subscribers are told ShuttingDown), removes the socket and \
            exits 0.

            Prometheus metrics: --metrics-address 127.0.0.1:9464 serves them at /metrics; the \
            Metrics method (dmabufctl metrics) gives the same text over the socket. A scrape \
            reports the latest pass, or runs one if that is older than --metrics-min-interval-msec.

            Exit codes: 0 stopped cleanly; 64 bad options; 69 the kernel cannot run the program \
            (too old, no BTF, lockdown); 73 the socket or the metrics address cannot be set \
            up (another dmabufd serves it, the port is taken); 77 missing privileges; 78 a bad \
            policy file or a passed socket that cannot be served; 1 any other start-up failure.
            """,
        version: ProductVersion.string)

    @Option(
        help: """
            Unix socket to serve (its folder is created; a stale socket is replaced). Ignored \
            when a service manager passes a listening socket (LISTEN_FDS; the one named \
            "varlink" if there are several).
            """, completion: .file())
    var socket = MonitorInterface.defaultSocketPath

    @Option(help: "Mode of the socket file, in octal; clients need write permission to connect.")
    var socketMode = "0666"

    @Option(
        help: "Group of the socket file (a name or a number); by default root's.",
        completion: .shellCommand("getent group | cut -d: -f1"))
    var socketGroup: String?

    @Option(
        help: "A JSON policy file: which methods and limits each uid or group gets (see dmabufd(8)).",
        completion: .file(extensions: ["json"]))
    var policy: String?

    @Option(help: "Names and prefixes the kernel maps hold at most, across all clients.")
    var capacity = 16_384

    @Option(help: "Names and prefixes (watched, plus those of one Scan) a non-root connection may hold.")
    var clientQuota = 256

    @Option(help: "Names and prefixes one call may carry, whoever calls.")
    var maxNamesPerCall = 1024

    @Option(
        help: """
            Bytes of the ring buffer that carries per-buffer records (List, Scan with details): \
            a power of two, at least 4096. Records that do not fit are counted in details_dropped.
            """)
    var ringBytes = 8 << 20

    @Option(help: "Largest message a client may send, in bytes; a larger one ends its connection.")
    var maxMessageBytes = 65_536

    @Option(help: "How deep arrays and objects may nest in a message; deeper ends the connection.")
    var maxJSONDepth = 32

    @Option(
        help: """
            Milliseconds a client may take to finish a message it started; then its connection \
            is closed. Idle time between messages is not limited.
            """)
    var messageTimeoutMsec = 10_000

    @Option(help: "Connections open at once, from all users; more are closed as they arrive.")
    var maxConnections = 4096

    @Option(
        help: """
            How long a subscriber may leave a reply unread, in milliseconds, before it is sent \
            SubscriberStalled and disconnected.
            """)
    var subscriberTimeoutMsec = 60_000

    @Option(
        help: ArgumentHelp(
            """
            Serve Prometheus metrics over HTTP at http://HOST:PORT/metrics (nothing else is \
            served there). HOST is a numeric address: 127.0.0.1 for this host only, 0.0.0.0 or \
            [::] for every interface. Off unless given.
            """, valueName: "host:port"))
    var metricsAddress: String?

    @Option(
        help: """
            Milliseconds a metrics scrape (GET /metrics, the Metrics method) reuses the latest \
            pass for; an older one makes the scrape run a pass. Scrapes alone therefore start \
            at most one pass per interval, however many scrapers there are.
            """)
    var metricsMinIntervalMsec = Int(MetricsCollector.defaultMinInterval / .milliseconds(1))

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    public init() {}

    public func validate() throws {
        guard capacity >= 1 else { throw ValidationError("--capacity must be at least 1") }
        guard clientQuota >= 1 else { throw ValidationError("--client-quota must be at least 1") }
        guard maxNamesPerCall >= 1 else { throw ValidationError("--max-names-per-call must be at least 1") }
        guard maxMessageBytes >= 1024 else { throw ValidationError("--max-message-bytes must be at least 1024") }
        guard (2...1024).contains(maxJSONDepth) else { throw ValidationError("--max-json-depth must be 2 to 1024") }
        guard messageTimeoutMsec >= 100 else { throw ValidationError("--message-timeout-msec must be at least 100") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard subscriberTimeoutMsec >= 100 else { throw ValidationError("--subscriber-timeout-msec must be at least 100") }
        guard metricsMinIntervalMsec >= 100 else { throw ValidationError("--metrics-min-interval-msec must be at least 100") }
        guard ringBytes >= 4096, ringBytes <= 1 << 30, ringBytes & (ringBytes - 1) == 0 else {
            throw ValidationError("--ring-bytes must be a power of two from 4096 to 1073741824")
        }
        _ = try socketFile()
        _ = try metricsEndpoint()
    }

    /// What `prepare` hands to `serve`.
    public struct Prepared {
        let program: DmabufProgram
        let listener: Listener
        /// The metrics endpoint's socket, when `--metrics-address` asks for one.
        let metricsListener: TCPListener?
        let policy: Policy
        /// `--max-connections`, or fewer when the open-file limit allows fewer.
        let maxConnections: Int
        let kernel: String
        let logger: Logger
    }

    /// Loads the program, binds the socket and drops privileges. Call it before anything
    /// starts a thread (see `Privileges`); on failure it prints one line and exits.
    public func prepareOrExit() -> Prepared {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "dmabufd")
        do {
            let socketFile = try socketFile()
            let policy = try loadPolicy()
            let passed = try SocketActivation.listener(named: "varlink")
            // A live service on the socket is the cheapest failure: find it before the load.
            if passed == nil { try socketFile.claim() }
            // Bound before the socket file appears, so a port in use leaves nothing behind.
            let metricsListener = try metricsEndpoint()?.bindListening()
            let connections = FileLimit.fit(connections: maxConnections)
            guard connections >= 1 else {
                throw StartupError(
                    description: "the open-file limit leaves no room for connections; raise it (ulimit -n, LimitNOFILE=)")
            }
            if connections < maxConnections {
                logger.notice("serving at most \(connections) connections: the open-file limit allows no more")
            }
            let program = try DmabufProgram(capacity: capacity, ringBytes: ringBytes)
            StartupSignals.stopCleanly(removing: passed == nil ? socketFile.path : nil)
            let listener = try passed ?? socketFile.bindListening()
            let dropped = try Privileges.dropAll()
            logger.info("\(dropped)")
            let kernel = KernelProbe.release()
            logger.info("dmabufd \(ProductVersion.string) loaded its BPF program (kernel \(kernel), capacity \(capacity))")
            return Prepared(
                program: program, listener: listener, metricsListener: metricsListener, policy: policy,
                maxConnections: connections, kernel: kernel, logger: logger)
        } catch {
            DaemonFailure(error).terminate()
        }
    }

    /// Serves until SIGTERM or SIGINT; on failure prints one line and exits.
    public func serve(_ prepared: sending Prepared) async {
        let logger = prepared.logger
        let passThread = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let monitor = BufferMonitor(backend: prepared.program, eventLoop: passThread.next())
        let policy = prepared.policy
        let counters = ServiceCounters()
        let metrics = MetricsCollector(
            monitor: monitor, counters: counters, minInterval: .milliseconds(metricsMinIntervalMsec),
            version: ProductVersion.string, kernel: prepared.kernel)
        let dispatcher = VarlinkDispatcher(
            vendor: "dmabufd", product: "dmabufd", version: ProductVersion.string,
            url: "",
            interfaces: [
                MonitorInterfaceServer(
                    monitor: monitor, metrics: metrics, counters: counters, policy: policy,
                    maxNamesPerCall: maxNamesPerCall, kernelRelease: prepared.kernel, logger: logger)
            ])
        var limits = ConnectionLimits()
        limits.maxMessageBytes = maxMessageBytes
        limits.maxJSONDepth = maxJSONDepth
        limits.messageTimeout = .milliseconds(messageTimeoutMsec)
        limits.stallTimeout = .milliseconds(subscriberTimeoutMsec)
        limits.maxConnections = prepared.maxConnections
        let server = VarlinkServer(
            prepared.listener, dispatcher: dispatcher, limits: limits,
            connectionsPerUID: { policy.grant(for: $0).maxConnections }, observer: counters,
            group: MultiThreadedEventLoopGroup.singleton,
            notifier: ServiceManagerNotifier(), logger: logger)
        let endpoint = prepared.metricsListener.map { listener in
            MetricsHTTPServer(
                listener, exposition: { try await metrics.report().exposition },
                group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        }
        let group = ServiceGroup(
            services: [server] + (endpoint.map { [$0] } ?? []), gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [], logger: logger)
        do {
            try await group.run()
        } catch {
            DaemonFailure(error).terminate()
        }
        try? await passThread.shutdownGracefully()
    }

    private func socketFile() throws(ValidationError) -> SocketFile {
        guard let mode = mode_t(socketMode, radix: 8), mode <= 0o777 else {
            throw ValidationError("--socket-mode must be octal permission bits such as 0660, not \(socketMode)")
        }
        guard let socketGroup else { return SocketFile(path: socket, mode: mode) }
        if let gid = gid_t(socketGroup) { return SocketFile(path: socket, mode: mode, group: gid) }
        guard let entry = getgrnam(socketGroup) else { throw ValidationError("--socket-group: no group named \(socketGroup)") }
        return SocketFile(path: socket, mode: mode, group: entry.pointee.gr_gid)
    }

    private func metricsEndpoint() throws(ValidationError) -> MetricsAddress? {
        do {
            return try metricsAddress.map { text throws(MetricsAddressError) in try MetricsAddress(text) }
        } catch {
            throw ValidationError("--metrics-address: \(error)")
        }
    }

    private func loadPolicy() throws(PolicyFileError) -> Policy {
        let builtIn = Policy.builtIn(quota: clientQuota)
        guard let policy else { return builtIn }
        return try PolicyFile.load(policy, builtIn: builtIn)
    }
}

/// A failure that stops the daemon: one line on stderr and an exit code that says which kind.
struct DaemonFailure: CustomStringConvertible {
    let description: String
    let exitCode: Int32

    init(_ error: any Error) {
        description = String(describing: error)
        switch error {
        case let error as ScannerError:
            switch error {
            case .iteratorMissing, .noKernelBTF, .lockdown: exitCode = 69
            case .missingPrivileges: exitCode = 77
            default: exitCode = 1
            }
        case is SocketFileError, is MetricsListenerError: exitCode = 73
        case is SocketActivationError: exitCode = 78
        case is PolicyFileError: exitCode = 78
        default: exitCode = 1
        }
    }

    func terminate() -> Never {
        Descriptor.printError("dmabufd: \(description)\n")
        exit(exitCode)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
