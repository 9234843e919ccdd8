import ArgumentParser
import DmabufClient
import DmabufProtocol
import Logging
import NIOPosix
import ServiceLifecycle
import VarlinkServer

/// `varlink-certification`: dmabufd's own Varlink code against the Varlink project's
/// certification, in both roles. Its options are those of the reference implementations,
/// so a test drives all three the same way. A test tool: never installed.
@main
struct VarlinkCertification: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "varlink-certification",
        abstract: "Serve org.varlink.certification, or run its sequence against a service.",
        discussion: """
            As a service it serves org.varlink.certification with the dispatcher and socket \
            server dmabufd uses, on --varlink or, like dmabufd, on the socket a service manager \
            passes (LISTEN_FDS). With --client it runs the sequence Start, Test01 … Test11, End \
            against the service at --varlink with the client library dmabufctl uses, prints each \
            reply, and exits 0 only if End says all went well.
            """)

    @Option(help: "The service's address: unix:PATH.")
    var varlink: String?

    @Flag(help: "Run the certification sequence against the service at --varlink.")
    var client = false

    func validate() throws {
        if client, varlink == nil { throw ValidationError("--client needs --varlink unix:PATH") }
        _ = try varlink.map(Self.socketPath)
    }

    func run() async throws {
        if client {
            try certify(VarlinkConnection(path: Self.socketPath(of: varlink!)))
        } else {
            try await serve()
        }
    }

    private func certify(_ connection: VarlinkConnection) throws {
        do {
            guard try CertificationClient(connection: connection).run() else {
                print("Certification failed: End says not all went well")
                throw ExitCode.failure
            }
            print("Certification passed")
        } catch let failure as CertificationClient.Failure {
            print("Certification failed: \(failure)")
            throw ExitCode.failure
        }
    }

    private func serve() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "varlink-certification")
        // As dmabufd does: a socket a service manager passes wins over the address.
        let listener: Listener
        if let passed = try SocketActivation.listener(named: "varlink") {
            listener = passed
        } else if let varlink {
            listener = try SocketFile(path: try Self.socketPath(of: varlink)).claim().bindListening()
        } else {
            throw ValidationError("give --varlink unix:PATH, or pass a listening socket (LISTEN_FDS)")
        }
        let dispatcher = VarlinkDispatcher(
            vendor: "dmabufd", product: "varlink-certification", version: ProductVersion.string,
            url: "https://varlink.org", interfaces: [CertificationInterfaceServer()])
        let server = VarlinkServer(
            listener, dispatcher: dispatcher, limits: ConnectionLimits(), connectionsPerUID: { _ in nil },
            observer: UnobservedServer(),
            group: MultiThreadedEventLoopGroup.singleton, notifier: ServiceManagerNotifier(), logger: logger)
        let group = ServiceGroup(
            services: [server], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        try await group.run()
    }

    /// The path of a `unix:PATH` address; parameters after `;` (`;mode=0666`) are ignored.
    static func socketPath(of address: String) throws(ValidationError) -> String {
        guard address.hasPrefix("unix:"), let path = address.dropFirst(5).split(separator: ";").first,
            !path.hasPrefix("@")
        else {
            throw ValidationError("only unix:PATH addresses are supported, not \(address)")
        }
        return String(path)
    }
}
