import DmabufProtocol
import DmabufScanner
import DmabufSystem
import Logging
import VarlinkServer

/// Serves io.dmabufd.Monitor: checks each call against the policy and the per-call
/// limit, decodes its parameters and hands the work to the `BufferMonitor`.
public struct MonitorInterfaceServer: VarlinkInterfaceServer {
    public let interfaceName = MonitorInterface.name
    public let interfaceDescription = MonitorInterface.description
    private let monitor: BufferMonitor
    private let metrics: MetricsCollector
    private let counters: ServiceCounters
    private let policy: Policy
    private let maxNamesPerCall: Int
    private let kernelRelease: String
    private let cgroups: CgroupPaths
    /// The service's own pid namespace, which the pids of its replies are in.
    private let pidNamespace = PidfdInfo.ownPidNamespace()
    /// Where denials are logged, a few lines per uid at most.
    private let refusals: RefusalLog
    private let throttle = PassThrottle()

    /// - Parameter maxNamesPerCall: names and prefixes one call may carry, whoever calls.
    /// - Parameter cgroups: names the cgroups of `Processes`, `Cgroups` and `Mine`.
    init(
        monitor: BufferMonitor, metrics: MetricsCollector, counters: ServiceCounters, policy: Policy,
        maxNamesPerCall: Int, kernelRelease: String, cgroups: CgroupPaths = CgroupPaths(), logger: Logger
    ) {
        self.cgroups = cgroups
        self.monitor = monitor
        self.metrics = metrics
        self.counters = counters
        self.policy = policy
        self.maxNamesPerCall = maxNamesPerCall
        self.kernelRelease = kernelRelease
        self.refusals = RefusalLog(logger: logger)
    }

    public func clientConnected(_ client: ClientContext) async {
        await monitor.connect(client.connection)
    }

    public func clientDisconnected(_ client: ClientContext) async {
        await monitor.disconnect(client.connection)
    }

    public func serve(_ call: Call, from client: ClientContext) async throws(VarlinkError) -> Response {
        guard let method = MonitorInterface.Method(rawValue: call.member) else { throw .methodNotFound(call.method) }
        let grant = policy.grant(for: client.peer)
        try check(grant.methods.contains(method), else: .method, call, client)
        if method == .subscribe { return .stream(try await subscribe(call, from: client, grant: grant)) }
        if method == .list && call.more { return .stream(try await listInSlices(call, from: client, grant: grant)) }
        return .reply(try await answer(method, call, from: client, grant: grant))
    }

    /// Refuses what the policy does not grant, and says so in the log and the metrics.
    private func check(_ granted: Bool, else denial: Denial, _ call: Call, _ client: ClientContext)
        throws(VarlinkError)
    {
        guard granted else {
            counters.denied(denial)
            refusals.notice(
                "denied \(call.method)\(denial == .details ? " with details" : "") to \(client.peer)",
                uid: client.peer.uid)
            throw .permissionDenied()
        }
    }

    /// The watches a call carries, within the per-call limit.
    private func watches(names: [WatchName], prefixes: [WatchName]?) throws(VarlinkError) -> [Watch] {
        let watches = Watch.all(names: names, prefixes: prefixes)
        guard watches.count <= maxNamesPerCall else { throw .tooManyNames(limit: maxNamesPerCall) }
        return watches
    }

    /// The one reply to a call of any method but `Subscribe`. Those that go out with every
    /// pass (Watch, Unwatch, Scan, List) are written straight to bytes.
    private func answer(_ method: MonitorInterface.Method, _ call: Call, from client: ClientContext, grant: Grant)
        async throws(VarlinkError) -> Reply
    {
        let account = WatchAccount(uid: client.peer.uid, quota: grant.maxNames ?? Int.max)
        switch method {
        case .watch:
            let request = try WatchParameters(parameters: call.parameters)
            let watches = try watches(names: request.names, prefixes: request.prefixes)
            let set = try await answering { () throws(MonitorError) in
                try await monitor.watch(watches, by: client.connection, account: account)
            }
            return Reply(writing: WatchReply(set))
        case .unwatch:
            let request = try WatchParameters(parameters: call.parameters)
            let watches = try watches(names: request.names, prefixes: request.prefixes)
            let set = await monitor.unwatch(watches, by: client.connection)
            return Reply(writing: WatchReply(set))
        case .scan:
            let request = try ScanParameters(parameters: call.parameters)
            let details = request.details ?? false
            try check(!details || grant.details, else: .details, call, client)
            let holders = request.holders ?? false
            let watches = try watches(names: request.names ?? [], prefixes: request.prefixes)
            await waitForPassTurn(client, grant)
            announce(client)
            let outcome = try await answering { () throws(MonitorError) in
                try await monitor.scan(
                    watches, by: client.connection, account: account, details: details, holders: holders,
                    asker: asker(client))
            }
            let uid = client.peer.uid
            let visible: (HolderRecord) -> Bool = { grant.allProcesses || $0.uid == uid }
            return Reply(
                writing: ScanReply(outcome, details: details, holders: holders ? visible : nil, pids: pids(in: outcome)))
        case .list:
            let outcome = try await list(call, from: client, grant: grant)
            let buffers = outcome.buffers.map(Buffer.init(record:))
            return Reply(writing: ListReply(buffers: buffers, scan: ScanInfo(outcome.totals)))
        case .status:
            _ = try NoParameters(parameters: call.parameters)
            // What others watch is theirs: only root sees the union.
            let status = await monitor.status(of: client.peer.uid, totals: client.peer.uid == 0)
            let reply = StatusReply(
                version: ProductVersion.string, kernel: kernelRelease, clients: status.clients,
                watched: status.watched, capacity: status.capacity, scans: status.passes,
                mapEntries: status.mapEntries, exporters: status.exporters?.map(Exporter.init(totals:)))
            return Reply(parameters: reply.parameters)
        case .metrics:
            _ = try NoParameters(parameters: call.parameters)
            let report = try await answering { () throws(MonitorError) in try await metrics.report(watchedNames: true) }
            return Reply(parameters: MetricsReply(exposition: report.exposition).parameters)
        case .processes:
            _ = try NoParameters(parameters: call.parameters)
            let outcome = try await attribution(for: client, grant)
            let visible = grant.allProcesses ? nil : client.peer.uid
            let reply = ProcessesReply(outcome, visibleTo: visible, cgroups: cgroups, pids: pids(in: outcome))
            return Reply(parameters: reply.parameters)
        case .cgroups:
            _ = try NoParameters(parameters: call.parameters)
            let outcome = try await attribution(for: client, grant)
            return Reply(parameters: CgroupsReply(outcome, cgroups: cgroups).parameters)
        case .mine:
            _ = try NoParameters(parameters: call.parameters)
            let path = client.peer.cgroupID.map(cgroups.path(of:)) ?? ""
            guard !path.isEmpty else {
                throw .attributionUnavailable(
                    reason: "the caller's cgroup cannot be told: the kernel gave no cgroup for its pidfd "
                        + "(SO_PEERPIDFD and PIDFD_GET_INFO, Linux 6.13+, on a cgroup2 hierarchy)")
            }
            let outcome = try await attribution(for: client, grant)
            return Reply(parameters: MineReply(outcome, cgroup: path, cgroups: cgroups, pids: pids(in: outcome)).parameters)
        case .subscribe:
            preconditionFailure("Subscribe is served as a stream")
        }
    }

    /// `List` called with `more`: the same pass, its buffers sent in slices.
    private func listInSlices(_ call: Call, from client: ClientContext, grant: Grant) async throws(VarlinkError)
        -> ReplyStream
    {
        let outcome = try await list(call, from: client, grant: grant)
        return stream(ListReplies(records: outcome.buffers, scan: ScanInfo(outcome.totals)))
    }

    /// A pass that lists every buffer, run (or joined) in the caller's turn.
    private func list(_ call: Call, from client: ClientContext, grant: Grant) async throws(VarlinkError)
        -> PassOutcome
    {
        _ = try NoParameters(parameters: call.parameters)
        await waitForPassTurn(client, grant)
        announce(client)
        return try await answering { () throws(MonitorError) in try await monitor.list(by: client.connection) }
    }

    private func subscribe(_ call: Call, from client: ClientContext, grant: Grant) async throws(VarlinkError)
        -> ReplyStream
    {
        let request = try SubscribeParameters(parameters: call.parameters)
        guard call.more else { throw .expectedMore() }
        let details = request.details ?? false
        try check(!details || grant.details, else: .details, call, client)
        // A subscription's passes are spaced as the uid's other passes are.
        let interval = max(SubscriptionInterval.clamped(milliseconds: request.intervalMsec), grant.passSpacing ?? .zero)
        let updates = try await answering { () throws(MonitorError) in
            try await monitor.subscribe(client.connection, every: interval, details: details)
        }
        return stream(SubscriptionReplies(updates: updates, details: details))
    }

    /// The replies of a `more` call; a reader that leaves them unread is told it stalled.
    private func stream(_ replies: some AsyncSequence<Reply, Never> & Sendable) -> ReplyStream {
        ReplyStream(
            replies: replies,
            stalled: { timeout in Reply(error: .subscriberStalled(timeoutMsec: Int(timeout / .milliseconds(1)))) },
            shuttingDown: Reply(error: .shuttingDown()))
    }

    /// Who holds what, as of a pass run (or joined) for the caller in its turn.
    private func attribution(for client: ClientContext, _ grant: Grant) async throws(VarlinkError) -> PassOutcome {
        await waitForPassTurn(client, grant)
        announce(client)
        return try await answering { () throws(MonitorError) in
            try await monitor.attribution(by: client.connection, asker: asker(client))
        }
    }

    /// The call will need a pass: the monitor counts it as on its way from now on, the
    /// server no longer.
    private func announce(_ client: ClientContext) {
        monitor.callsOnTheirWay.announce()
        client.handedOn()
    }

    /// Waits for the caller's uid's turn to ask for a pass, by its grant's spacing.
    private func waitForPassTurn(_ client: ClientContext, _ grant: Grant) async {
        guard let spacing = grant.passSpacing else { return }
        await throttle.wait(for: client.peer.uid, spacing: spacing)
    }

    /// How the asking client names processes: from another pid namespace, never by a host pid.
    private func pids(in outcome: PassOutcome) -> PidView {
        PidView(client: outcome.askerNamespace?.namespace, service: pidNamespace)
    }

    /// The client's pid as the walk knows tasks (the service's pid namespace, SO_PEERCRED's).
    private func asker(_ client: ClientContext) -> UInt32? {
        client.peer.pid > 0 ? UInt32(client.peer.pid) : nil
    }

    /// The monitor's answer, or its refusal as the error reply that names it.
    private func answering<T>(_ body: () async throws(MonitorError) -> T) async throws(VarlinkError) -> T {
        do {
            return try await body()
        } catch {
            throw VarlinkError(error)
        }
    }
}
