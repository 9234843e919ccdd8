import ArgumentParser
import DmabufProtocol
import DmabufScanner
import DmabufSystem
import Logging
import VarlinkServer

/// The part of start-up that needs privileges, run on the main thread while it is the
/// process's only thread: read the policy, claim and bind the socket (or take the one a
/// service manager passed), bind the metrics address, load the program, then become the
/// service's user and drop every capability, so every thread made later has none.
public struct PrivilegedStartup {
    let options: DaemonCommand

    public init(_ options: DaemonCommand) {
        self.options = options
    }

    /// Prepares the service; on failure prints one line and exits with its kind's code.
    public func prepareOrExit() -> PreparedService {
        let level = options.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        do {
            return try prepare(logger: Logger(label: "dmabufd"))
        } catch {
            error.terminate()
        }
    }

    private func prepare(logger: Logger) throws(StartupError) -> PreparedService {
        let socketFile = try startupStep { () throws(ValidationError) in try options.socketFile() }
        let (user, notice) = try startupStep { () throws(ValidationError) in try options.serviceUser() }
        if let notice { logger.notice("\(notice)") }
        let policy = try startupStep { () throws(PolicyFileError) in try options.loadPolicy() }
        let passed = try startupStep { () throws(SocketActivationError) in try SocketActivation.listener(named: "varlink") }
        if let passed { return try prepare(socket: .passed(passed), user: user, policy: policy, logger: logger) }
        // A live service on the socket is the cheapest failure: find it before the load.
        // Only root gives files away; started as the user, dmabufd owns what it makes.
        let owner = geteuid() == 0 ? user?.socketOwner : nil
        let claimed = try startupStep { () throws(SocketFileError) in try socketFile.claim(handingTo: owner) }
        StartupSignals.stopCleanly(removing: claimed.files)
        if let user, owner != nil, !claimed.ownerRemovesFiles {
            logger.notice(
                """
                the socket's folder is root's and holds other files, so user \(user) cannot remove \
                \(socketFile.path) as it stops (the next start replaces it); give dmabufd a folder \
                of its own, such as /run/dmabufd
                """)
        }
        do {
            return try prepare(socket: .claimed(claimed), user: user, policy: policy, logger: logger)
        } catch {
            claimed.release()
            throw error
        }
    }

    private func prepare(socket: SocketSource, user: ServiceUser?, policy: Policy, logger: Logger) throws(StartupError)
        -> PreparedService
    {
        // Bound before the socket file appears, so a port in use leaves nothing behind.
        let metricsAddress = try startupStep { () throws(ValidationError) in try options.metricsEndpoint() }
        let metricsListener = try metricsAddress.map { address throws(StartupError) in
            try startupStep { () throws(MetricsListenerError) in try address.bindListening() }
        }
        let connections = FileLimit.fit(connections: options.maxConnections)
        guard connections >= 1 else {
            throw StartupError(
                .other, "the open-file limit leaves no room for connections; raise it (ulimit -n, LimitNOFILE=)")
        }
        if connections < options.maxConnections {
            logger.notice("serving at most \(connections) connections: the open-file limit allows no more")
        }
        let program = try startupStep { () throws(ScannerError) in
            try DmabufProgram(capacity: options.capacity, ringBytes: options.ringBytes)
        }
        let listener: Listener
        switch socket {
        case .passed(let passed): listener = passed
        case .claimed(let claimed):
            listener = try startupStep { () throws(SocketFileError) in try claimed.bindListening() }
        }
        let dropped = try Privileges.dropAll(becoming: user)
        logger.info("\(dropped)")
        let kernel = KernelProbe.release()
        logger.info(
            "dmabufd \(ProductVersion.string) loaded its BPF program (kernel \(kernel), capacity \(options.capacity))")
        return PreparedService(
            program: program, listener: listener, metricsListener: metricsListener, policy: policy,
            maxConnections: connections, kernel: kernel, logger: logger)
    }
}

/// Where the service's socket comes from: a service manager, or a path this process claimed.
private enum SocketSource {
    case passed(Listener)
    case claimed(ClaimedSocketPath)
}

extension ValidationError: StartupFailure {
    var startupKind: StartupError.Kind { .configuration }
}
