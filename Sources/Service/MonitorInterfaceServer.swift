import DmabufProtocol
import DmabufScanner
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
    private let logger: Logger

    /// - Parameter maxNamesPerCall: names and prefixes one call may carry, whoever calls.
    public init(
        monitor: BufferMonitor, metrics: MetricsCollector, counters: ServiceCounters, policy: Policy,
        maxNamesPerCall: Int, kernelRelease: String, logger: Logger
    ) {
        self.monitor = monitor
        self.metrics = metrics
        self.counters = counters
        self.policy = policy
        self.maxNamesPerCall = maxNamesPerCall
        self.kernelRelease = kernelRelease
        self.logger = logger
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
        return .reply(Reply(parameters: try await answer(method, call, from: client, grant: grant)))
    }

    /// Refuses what the policy does not grant, and says so in the log and the metrics.
    private func check(_ granted: Bool, else denial: Denial, _ call: Call, _ client: ClientContext)
        throws(VarlinkError)
    {
        guard granted else {
            counters.denied(denial)
            logger.notice("denied \(call.method)\(denial == .details ? " with details" : "") to \(client.peer)")
            throw .permissionDenied()
        }
    }

    /// The watches a call carries, within the per-call limit.
    private func watches(names: [WatchName], prefixes: [WatchName]?) throws(VarlinkError) -> [Watch] {
        let watches = Watch.all(names: names, prefixes: prefixes)
        guard watches.count <= maxNamesPerCall else { throw .tooManyNames(limit: maxNamesPerCall) }
        return watches
    }

    /// The parameters of the one reply to a call of any method but `Subscribe`.
    private func answer(_ method: MonitorInterface.Method, _ call: Call, from client: ClientContext, grant: Grant)
        async throws(VarlinkError) -> [String: JSON]
    {
        let quota = grant.maxNames ?? Int.max
        switch method {
        case .watch:
            let request = try WatchParameters(parameters: call.parameters)
            let watches = try watches(names: request.names, prefixes: request.prefixes)
            let set = try await run { try await monitor.watch(watches, by: client.connection, quota: quota) }
            return WatchReply(set).parameters
        case .unwatch:
            let request = try WatchParameters(parameters: call.parameters)
            let watches = try watches(names: request.names, prefixes: request.prefixes)
            let set = await monitor.unwatch(watches, by: client.connection)
            return WatchReply(set).parameters
        case .scan:
            let request = try ScanParameters(parameters: call.parameters)
            let details = request.details ?? false
            try check(!details || grant.details, else: .details, call, client)
            let watches = try watches(names: request.names ?? [], prefixes: request.prefixes)
            let outcome = try await run {
                try await monitor.scan(watches, by: client.connection, quota: quota, details: details)
            }
            return ScanReply(outcome, details: details).parameters
        case .list:
            _ = try NoParameters(parameters: call.parameters)
            let outcome = try await run { try await monitor.list(by: client.connection) }
            let buffers = outcome.buffers.map(Buffer.init(record:))
            return ListReply(buffers: buffers, scan: ScanInfo(outcome.totals, detailed: true)).parameters
        case .status:
            _ = try NoParameters(parameters: call.parameters)
            let status = await monitor.status()
            return StatusReply(
                version: ProductVersion.string, kernel: kernelRelease, clients: status.clients,
                watched: status.watched, capacity: status.capacity, scans: status.passes,
                mapEntries: status.mapEntries, exporters: status.exporters?.map(Exporter.init(totals:))
            ).parameters
        case .metrics:
            _ = try NoParameters(parameters: call.parameters)
            let report = try await run { try await metrics.report() }
            return MetricsReply(exposition: report.exposition).parameters
        case .subscribe:
            preconditionFailure("Subscribe is served as a stream")
        }
    }

    private func subscribe(_ call: Call, from client: ClientContext, grant: Grant) async throws(VarlinkError)
        -> ReplyStream
    {
        let request = try SubscribeParameters(parameters: call.parameters)
        guard call.more else { throw .expectedMore() }
        let details = request.details ?? false
        try check(!details || grant.details, else: .details, call, client)
        let interval = SubscriptionInterval.clamped(milliseconds: request.intervalMsec)
        let updates = try await run { try await monitor.subscribe(client.connection, every: interval, details: details) }
        return ReplyStream(
            replies: SubscriptionReplies(updates: updates, details: details),
            stalled: { timeout in Reply(error: .subscriberStalled(timeoutMsec: Int(timeout / .milliseconds(1)))) },
            shuttingDown: Reply(error: .shuttingDown()))
    }

    private func run<T>(_ body: () async throws -> T) async throws(VarlinkError) -> T {
        do {
            return try await body()
        } catch let error as MonitorError {
            throw VarlinkError(error)
        } catch {
            throw VarlinkError(MonitorError.pass(.passFailed(String(describing: error))))
        }
    }
}

extension VarlinkError {
    init(_ error: MonitorError) {
        switch error {
        case .watch(.tooManyNames(let limit)): self = .tooManyNames(limit: limit)
        case .watch(.capacityExhausted(let capacity)): self = .capacityExhausted(capacity: capacity)
        case .pass(let error), .mapWrite(let error): self = .scanFailed(reason: error.description)
        case .alreadySubscribed: self = .alreadySubscribed()
        }
    }
}

extension ScanReply {
    /// What a pass saw of a request's watches; with `details`, each match lists its buffers.
    init(_ outcome: PassOutcome, details: Bool) {
        self.init(matches: outcome.matches(details: details), scan: ScanInfo(outcome.totals, detailed: details))
    }
}

extension PassOutcome {
    /// One match per watch, in the order of `watches`.
    func matches(details: Bool) -> [Match] {
        watches.map { watch, stats in
            Match(watch: watch, stats: stats, buffers: details ? buffers.filter { watch.matches($0.name) } : nil)
        }
    }
}

extension Match {
    /// `buffers`: the records of the buffers that matched, when details were asked for.
    init(watch: Watch, stats: NameStats, buffers: [BufferRecord]?) {
        self.init(
            name: watch.name.string, prefix: watch.kind == .prefix, present: stats.count > 0,
            count: Int(stats.count), bytes: Int(stats.bytes),
            buffers: buffers?.sorted { $0.inode < $1.inode }.map(Buffer.init(record:)))
    }
}

extension WatchReply {
    /// A connection's watch set, names and prefixes apart, each sorted.
    init(_ set: Set<Watch>) {
        let sorted = set.sorted()
        self.init(
            names: sorted.filter { $0.kind == .name }.map(\.name.string),
            prefixes: sorted.filter { $0.kind == .prefix }.map(\.name.string))
    }
}

extension ScanInfo {
    /// `detailed`: the request asked for buffer records, so records lost to a full ring
    /// buffer are its to know about.
    init(_ totals: PassTotals, detailed: Bool) {
        self.init(
            id: Int(totals.id), startedUsec: Int(totals.startedUsec), durationNsec: Int(totals.durationNsec),
            buffers: Int(totals.buffers), bytes: Int(totals.bytes),
            detailsDropped: detailed && totals.recordsDropped > 0 ? Int(totals.recordsDropped) : nil,
            exporters: totals.exporters.map(Exporter.init(totals:)))
    }
}

extension Exporter {
    init(totals: ExporterTotals) {
        self.init(name: Buffer.kernelString(totals.name), count: Int(totals.count), bytes: Int(totals.bytes))
    }
}

extension Buffer {
    init(record: BufferRecord) {
        self.init(
            inode: Int(record.inode), size: Int(record.size), nameBytes: record.name, exporterBytes: record.exporter)
    }
}
