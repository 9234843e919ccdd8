import ArgumentParser
import DmabufProtocol
import DmabufScanner
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `dmabufd`: parses options, loads the BPF program, binds the socket, serves until
/// SIGTERM or SIGINT.
// ArgumentParser runs a root command asynchronously only when it carries this annotation.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct DaemonCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dmabufd",
        abstract: "Watch DMA-BUF buffers by name and answer local clients over Varlink.",
        discussion: """
            dmabufd loads one BPF program that walks every DMA-BUF in the kernel (Linux 6.16 or \
            newer) and serves the Varlink interface io.dmabufd.Monitor on a Unix socket. Any local \
            user may connect; root may call every method, other users every method but List, with \
            at most --client-quota names and prefixes per connection. Watches belong to a \
            connection and end with it.

            It must run as root (CAP_BPF and CAP_PERFMON). SIGTERM or SIGINT stop it cleanly: it \
            stops accepting, closes every connection, removes the socket and exits 0.

            Exit codes: 0 stopped cleanly; 64 bad options; 69 the kernel cannot run the program \
            (too old, no BTF, lockdown); 73 the socket cannot be set up (another dmabufd serves \
            it); 77 missing privileges; 1 any other start-up failure.
            """,
        version: ProductVersion.string)

    @Option(help: "Unix socket to serve (its folder is created; a stale socket is replaced).")
    var socket = MonitorInterface.defaultSocketPath

    @Option(help: "Names and prefixes the kernel maps hold at most, across all clients.")
    var capacity = 16_384

    @Option(help: "Names and prefixes (watched, plus those of one Scan) a non-root connection may hold.")
    var clientQuota = 256

    @Option(
        help: """
            Bytes of the ring buffer that carries per-buffer records (List, Scan with details): \
            a power of two, at least 4096. Records that do not fit are counted in details_dropped.
            """)
    var ringBytes = 8 << 20

    @Option(help: "Largest message a client may send, in bytes; a larger one ends its connection.")
    var maxMessageBytes = 65_536

    @Option(
        help: """
            How long a subscriber may leave a reply unread, in milliseconds, before it is sent \
            SubscriberStalled and disconnected.
            """)
    var subscriberTimeoutMsec = 60_000

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    public init() {}

    public func validate() throws {
        guard capacity >= 1 else { throw ValidationError("--capacity must be at least 1") }
        guard clientQuota >= 1 else { throw ValidationError("--client-quota must be at least 1") }
        guard maxMessageBytes >= 1024 else { throw ValidationError("--max-message-bytes must be at least 1024") }
        guard subscriberTimeoutMsec >= 100 else { throw ValidationError("--subscriber-timeout-msec must be at least 100") }
        guard ringBytes >= 4096, ringBytes <= 1 << 30, ringBytes & (ringBytes - 1) == 0 else {
            throw ValidationError("--ring-bytes must be a power of two from 4096 to 1073741824")
        }
    }

    public func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "dmabufd")
        let socketFile = SocketFile(path: socket)
        let program: DmabufProgram
        do {
            // A live service on the socket is the cheapest failure: find it before the load.
            try socketFile.claim()
            program = try DmabufProgram(capacity: capacity, ringBytes: ringBytes)
        } catch {
            throw DaemonFailure(error).reported()
        }
        let kernel = KernelProbe.release()
        let passThread = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let monitor = BufferMonitor(runner: program, eventLoop: passThread.next())
        let policy = Policy(quota: clientQuota, rootQuota: capacity)
        let dispatcher = VarlinkDispatcher(
            vendor: "dmabufd", product: "dmabufd", version: ProductVersion.string,
            url: "",
            interfaces: [MonitorInterfaceServer(monitor: monitor, policy: policy, kernelRelease: kernel, logger: logger)])
        let server = VarlinkServer(
            socketFile, dispatcher: dispatcher, maxMessageBytes: maxMessageBytes,
            stallTimeout: .milliseconds(subscriberTimeoutMsec),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        logger.info("dmabufd \(ProductVersion.string) loaded its BPF program (kernel \(kernel), capacity \(capacity))")
        let group = ServiceGroup(
            services: [server], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        do {
            try await group.run()
        } catch {
            throw DaemonFailure(error).reported()
        }
        try await passThread.shutdownGracefully()
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
        case is SocketFileError: exitCode = 73
        default: exitCode = 1
        }
    }

    /// Prints the one line and returns the exit code to throw.
    func reported() -> ExitCode {
        let line = "dmabufd: \(description)\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count - 1) }
        return ExitCode(exitCode)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
