import ArgumentParser
import DmabufProtocol
import DmabufScanner
import DmabufSystem
import Logging
import VarlinkServer

/// `dmabufd`'s command line: its options, their defaults (each taken from the type that
/// owns the limit) and their checks. `PrivilegedStartup` and `ServiceAssembly` act on them.
public struct DaemonCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dmabufd",
        abstract: "Watch DMA-BUF buffers by name and answer local clients over Varlink.",
        discussion: """
            dmabufd loads one BPF program that walks every DMA-BUF in the kernel (Linux 6.16 or \
            newer) and serves the Varlink interface io.dmabufd.Monitor on a Unix socket. Any local \
            user may connect. Watches belong to a connection and end with it.

            Who may do what: by default root may call every method; every other user every method \
            but List, Metrics and Cgroups (Processes shows them their own processes), with at \
            most --client-quota names and prefixes per uid (across its connections) and 128 \
            connections per uid; a sixteenth of --capacity is kept for root alone. \
            --policy replaces that with a JSON file (see dmabufd(8)).

            It must start as root, or as its --user with CAP_BPF and CAP_PERFMON (they load the \
            program). Once the program is loaded and the socket bound it becomes --user, drops \
            every capability and sets no_new_privs: running the loaded program needs none. SIGTERM or SIGINT stop it cleanly: it stops accepting, \
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
            Unix socket to serve (its folder is created, and refused if another user could \
            write it; PATH.lock beside it keeps a second dmabufd off; a stale socket is replaced). Ignored \
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

    @Option(
        help: "Names and prefixes (watched, plus those of Scans in flight) a non-root uid may hold across its connections.")
    var clientQuota = 256

    @Option(help: "Names and prefixes one call may carry, whoever calls.")
    var maxNamesPerCall = 1024

    @Option(
        help: """
            Bytes of the ring buffer that carries per-buffer records (List, Scan with details): \
            a power of two, at least a page (4096 on most machines). It holds about 1 record in \
            96 bytes; a listing that does not fit takes several runs of the program (windows), \
            so nothing is dropped. The kernel keeps it allocated; dmabufd maps it only while a \
            listing runs.
            """)
    var ringBytes = ProgramSizes.defaultRingBytes

    @Option(help: "Largest message a client may send, in bytes; a larger one ends its connection.")
    var maxMessageBytes = ConnectionLimits().maxMessageBytes

    @Option(help: "How deep arrays and objects may nest in a message; deeper ends the connection.")
    var maxJSONDepth = ConnectionLimits().maxJSONDepth

    @Option(
        help: """
            Milliseconds a client may take to finish a message it started; then its connection \
            is closed. Idle time between messages is not limited.
            """)
    var messageTimeoutMsec = Int(ConnectionLimits().messageTimeout / .milliseconds(1))

    @Option(help: "Connections open at once, from all users; more are closed as they arrive.")
    var maxConnections = ConnectionLimits().maxConnections

    @Option(
        help: """
            How long a subscriber may leave a reply unread, in milliseconds, before it is sent \
            SubscriberStalled and disconnected.
            """)
    var subscriberTimeoutMsec = Int(ConnectionLimits().stallTimeout / .milliseconds(1))

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

    @Option(
        help: ArgumentHelp(
            """
            Where the host's cgroup2 hierarchy is, to name the cgroups of Processes, Cgroups and \
            Mine; by default the cgroup2 mount this process sees. In a container, whose own view \
            is its cgroup alone: the host's /sys/fs/cgroup mounted read-only, e.g. at \
            /host/sys/fs/cgroup.
            """, valueName: "path"),
        completion: .directory)
    var cgroupRoot: String?

    @Flag(
        help: """
            Add dmabufd_cgroup_bytes{cgroup} to the metrics: what each cgroup subtree holding \
            DMA-BUFs holds. Off by default: a host can have many cgroups.
            """)
    var metricsCgroups = false

    @Flag(
        help: """
            Serve the per-name series (dmabufd_watched_buffers, dmabufd_watched_bytes, \
            dmabufd_watched_names) on the metrics endpoint too. Off by default: who watches \
            what is each client's own, and whoever reaches the port would learn it. The \
            Metrics method (root only by default) always has them.
            """)
    var metricsWatchedNames = false

    @Option(
        help: """
            The most watched names and prefixes that get series of their own in the metrics \
            (the first in order); dmabufd_watched_names_without_series counts the rest.
            """)
    var metricsMaxWatchedNames = 1000

    @Option(
        help: ArgumentHelp(
            """
            The user to become once the program is loaded and the socket bound: a name, UID or \
            UID:GID. By default dmabufd, where this system has that user (make install creates \
            it); else it says so and keeps uid 0, as does --user root. The socket, its lock and \
            a folder that holds nothing else are made this user's, so it can remove them as it stops.
            """, valueName: "user"),
        completion: .shellCommand("getent passwd | cut -d: -f1"))
    var user: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    public init() {}

    public func validate() throws {
        guard capacity >= 1 else { throw ValidationError("--capacity must be at least 1") }
        guard ProgramSizes.isValid(capacity: capacity) else {
            throw ValidationError("--capacity must be \(ProgramSizes.capacityRule)")
        }
        guard clientQuota >= 1 else { throw ValidationError("--client-quota must be at least 1") }
        guard maxNamesPerCall >= 1 else { throw ValidationError("--max-names-per-call must be at least 1") }
        guard maxMessageBytes >= 1024 else { throw ValidationError("--max-message-bytes must be at least 1024") }
        guard (2...1024).contains(maxJSONDepth) else { throw ValidationError("--max-json-depth must be 2 to 1024") }
        guard messageTimeoutMsec >= 100 else { throw ValidationError("--message-timeout-msec must be at least 100") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard subscriberTimeoutMsec >= 100 else { throw ValidationError("--subscriber-timeout-msec must be at least 100") }
        guard metricsMinIntervalMsec >= 100 else { throw ValidationError("--metrics-min-interval-msec must be at least 100") }
        guard metricsMaxWatchedNames >= 0 else { throw ValidationError("--metrics-max-watched-names must be 0 or more") }
        guard ProgramSizes.isValid(ringBytes: ringBytes) else {
            throw ValidationError("--ring-bytes must be \(ProgramSizes.ringBytesRule)")
        }
        _ = try socketFile()
        _ = try metricsEndpoint()
        _ = try serviceUser()
    }

    func serviceUser() throws(ValidationError) -> (user: ServiceUser?, notice: String?) {
        do {
            return try ServiceUser.resolve(user)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The limits every connection gets; `maxConnections` as the open-file limit allows.
    func connectionLimits(maxConnections: Int, reserve: ReservedShare) -> ConnectionLimits {
        var limits = ConnectionLimits()
        limits.maxMessageBytes = maxMessageBytes
        limits.maxJSONDepth = maxJSONDepth
        limits.messageTimeout = .milliseconds(messageTimeoutMsec)
        limits.stallTimeout = .milliseconds(subscriberTimeoutMsec)
        limits.maxConnections = maxConnections
        // Never more than half: the open-file limit may have cut the connections down.
        limits.reservedConnections = min(reserve.connections, maxConnections / 2)
        limits.reservedUIDs = reserve.uids
        return limits
    }

    func socketFile() throws(ValidationError) -> SocketFile {
        guard let mode = mode_t(socketMode, radix: 8), mode <= 0o777 else {
            throw ValidationError("--socket-mode must be octal permission bits such as 0660, not \(socketMode)")
        }
        guard let socketGroup else { return SocketFile(path: socket, mode: mode) }
        if let gid = gid_t(socketGroup) { return SocketFile(path: socket, mode: mode, group: gid) }
        guard let entry = getgrnam(socketGroup) else { throw ValidationError("--socket-group: no group named \(socketGroup)") }
        return SocketFile(path: socket, mode: mode, group: entry.pointee.gr_gid)
    }

    func metricsEndpoint() throws(ValidationError) -> MetricsAddress? {
        do {
            return try metricsAddress.map { text throws(MetricsAddressError) in try MetricsAddress(text) }
        } catch {
            throw ValidationError("--metrics-address: \(error)")
        }
    }

    func loadPolicy() throws(PolicyFileError) -> Policy {
        let builtIn = Policy.builtIn(quota: clientQuota, capacity: capacity, connections: maxConnections)
        guard let policy else { return builtIn }
        return try PolicyFile.load(policy, builtIn: builtIn)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
