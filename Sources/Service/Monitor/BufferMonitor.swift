import DmabufProtocol
import DmabufScanner
import NIOCore
import VarlinkServer

/// The one owner of the BPF program and of who watches what. Every map write and every
/// pass happens here, on a thread of its own (the pass is a blocking syscall), so a
/// pass never interleaves with a watch change.
///
/// Passes are single-flight with freshness: a request waits for the next pass that
/// starts after it arrived, and every request that arrives while a pass runs shares
/// the one after it. A pass about to start gathers first: while calls read off their
/// sockets are still on their way here (`callsOnTheirWay`), it waits for them, at most
/// as long as the last pass took (a call it did not wait for would wait a whole pass),
/// so calls sent together share a pass and a lone call never waits. While anyone
/// subscribes, a pass also runs every interval (the smallest any subscriber asked for),
/// and every pass, whoever asked for it, updates every subscriber.
public actor BufferMonitor {
    public nonisolated let unownedExecutor: UnownedSerialExecutor
    /// What the interface announces before it awaits `scan`, `list` or `attribution`.
    public nonisolated let callsOnTheirWay: CallsOnTheirWay
    private let backend: any ScanBackend
    private var registry: WatchRegistry
    private var clients: Set<ConnectionID> = []
    private var waiting: [Waiter] = []
    private var passScheduled = false
    private var statistics = PassStatistics()
    /// Who held what after the latest pass that listed every buffer and walked the holders.
    private var latestAttribution: LatestAttribution?
    private var subscriptions: [ConnectionID: Subscription] = [:]
    private var nextSubscriptionID = 0
    private var ticker: (interval: Duration, task: Task<Void, Never>)?
    /// What the last pass told subscribers, so that a pass that changes nothing for any of
    /// them costs one comparison, not a diff per subscriber.
    private var published: PublishedState?
    /// A watch set or the subscriptions changed since: the next pass tells subscribers.
    private var subscribersStale = true

    private struct PublishedState: Equatable {
        var stats: [Watch: NameStats]
        var records: [BufferRecord]
    }

    private struct Subscription {
        let id: Int
        let interval: Duration
        let details: Bool
        /// Buffers only the newest update: each holds the whole watch set, so a subscriber
        /// that reads slowly skips states instead of queueing them.
        let updates: AsyncStream<SubscriptionUpdate>.Continuation
    }

    private struct Waiter {
        let connection: ConnectionID
        let held: Set<Watch>
        /// Whom `held` is charged to.
        let heldFor: UInt32
        let collecting: BufferCollection
        /// Whether it wants the holders walked right after the pass.
        let holders: HoldersWanted
        /// The asking client's pid, for the walk to tell its pid namespace.
        let asker: UInt32?
        let continuation: CheckedContinuation<Result<PassOutcome, MonitorError>, Never>
    }

    /// - Parameter eventLoop: the thread every pass and map write runs on; give the
    ///   monitor one of its own so a pass never stalls socket I/O.
    /// - Parameter reserve: the share of the capacity only some uids may use.
    /// - Parameter untaken: the server's count of calls read and not yet handed on,
    ///   which passes about to start wait for (at most as long as the last pass took).
    public init(
        backend: sending any ScanBackend, reserve: ReservedShare = ReservedShare(names: 0, uids: []),
        untaken: UntakenMessages = UntakenMessages(), eventLoop: any EventLoop
    ) {
        self.callsOnTheirWay = CallsOnTheirWay(untaken: untaken)
        self.backend = backend
        self.registry = WatchRegistry(capacity: backend.capacity, reserve: reserve)
        self.unownedExecutor = eventLoop.executor.asUnownedSerialExecutor()
    }

    public func connect(_ connection: ConnectionID) {
        clients.insert(connection)
    }

    /// A closed connection's watches and subscription die with it.
    public func disconnect(_ connection: ConnectionID) {
        subscribersStale = true
        clients.remove(connection)
        removeFromMaps(registry.drop(connection))
        subscriptions.removeValue(forKey: connection)?.updates.finish()
        retime()
    }

    /// Adds `watches` to the connection's set; returns the set afterwards.
    public func watch(_ watches: [Watch], by connection: ConnectionID, account: WatchAccount) throws(MonitorError)
        -> Set<Watch>
    {
        try apply { () throws(WatchError) in try registry.planWatch(watches, by: connection, account: account) }
        subscribersStale = true
        return registry.watchSet(of: connection)
    }

    /// Removes `watches` from the connection's set; returns the set afterwards.
    public func unwatch(_ watches: [Watch], by connection: ConnectionID) -> Set<Watch> {
        subscribersStale = true
        let (set, leaving) = registry.unwatch(watches, by: connection)
        removeFromMaps(leaving)
        return set
    }

    /// Runs (or joins) the next pass and reports the connection's watch set plus `extra`;
    /// with `details`, also the records of the buffers that matched.
    /// With `holders`, also the walk of the holders that followed the pass (and the
    /// matched buffers' records, to join them with).
    public func scan(
        _ extra: [Watch], by connection: ConnectionID, account: WatchAccount, details: Bool = false,
        holders: Bool = false, asker: UInt32? = nil
    ) async throws(MonitorError) -> PassOutcome {
        callsOnTheirWay.arrived()
        let plan = try apply { () throws(WatchError) in
            try registry.planScanHold(extra, by: connection, account: account)
        }
        return try await nextPass(
            connection: connection, held: plan.held, heldFor: plan.uid,
            collecting: details || holders ? .matched : .none,
            holders: holders ? .required : .no, asker: asker)
    }

    /// Runs (or joins) the next pass with every buffer's record collected.
    public func list(by connection: ConnectionID) async throws(MonitorError) -> PassOutcome {
        callsOnTheirWay.arrived()
        return try await nextPass(connection: connection, collecting: .all)
    }

    /// Runs (or joins) the next pass with every buffer's record collected, and walks every
    /// process's fds and mappings right after it: who holds what.
    /// `asker`: the client's pid, whose pid namespace the walk tells (`PassOutcome.askerNamespace`).
    public func attribution(by connection: ConnectionID, asker: UInt32? = nil) async throws(MonitorError)
        -> PassOutcome
    {
        callsOnTheirWay.arrived()
        return try await nextPass(connection: connection, collecting: .all, holders: .required, asker: asker)
    }

    /// Starts the connection's subscription: an update after the next pass (started now,
    /// so the first comes at once) and after every pass from then on, until the stream is
    /// dropped or the connection closes. `details`: updates carry the matched buffers.
    public func subscribe(_ connection: ConnectionID, every interval: Duration, details: Bool) throws(MonitorError)
        -> AsyncStream<SubscriptionUpdate>
    {
        guard subscriptions[connection] == nil else { throw .alreadySubscribed }
        nextSubscriptionID += 1
        let id = nextSubscriptionID
        let (updates, continuation) = AsyncStream.makeStream(
            of: SubscriptionUpdate.self, bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { _ in Task { await self.unsubscribe(connection, id: id) } }
        subscriptions[connection] = Subscription(id: id, interval: interval, details: details, updates: continuation)
        subscribersStale = true
        retime()
        schedulePass()
        return updates
    }

    private func unsubscribe(_ connection: ConnectionID, id: Int) {
        // A later subscription of the same connection is not this one's to end.
        guard subscriptions[connection]?.id == id else { return }
        subscriptions[connection] = nil
        retime()
    }

    /// Keeps one periodic task running at the smallest interval any subscriber wants, and
    /// none while nobody subscribes.
    private func retime() {
        let wanted = subscriptions.values.map(\.interval).min()
        guard wanted != ticker?.interval else { return }
        ticker?.task.cancel()
        ticker = wanted.map { interval in (interval, Task { await self.tick(every: interval) }) }
    }

    private func tick(every interval: Duration) async {
        var deadline = ContinuousClock.now
        while true {
            deadline += interval
            do { try await Task.sleep(until: deadline) } catch { return }
            schedulePass()
        }
    }

    /// For `uid`: what it watches, or with `totals` what everyone does (the union, and
    /// the entries the kernel maps hold).
    public func status(of uid: UInt32, totals: Bool) -> MonitorStatus {
        MonitorStatus(
            clients: clients.count, watched: totals ? registry.unionCount : registry.charge(of: uid),
            capacity: registry.capacity, passes: statistics.passes, mapEntries: totals ? backend.mapEntryCount() : nil,
            exporters: statistics.latest?.totals.exporters)
    }

    /// The metrics as of the latest pass if it started less than `maxAge` ago, else as of
    /// a new one (joined if one is about to start), which also walks the holders where the
    /// kernel can. Scrapes alone therefore start at most one pass per `maxAge`, however
    /// often they come.
    public func metrics(maxAge: Duration) async throws(MonitorError) -> MonitorMetrics {
        if !statistics.isFresh(within: maxAge, at: .now) {
            _ = try await nextPass(connection: .service, held: [], collecting: .all, holders: .ifAvailable)
        }
        return MonitorMetrics(
            statistics: statistics, watches: registry.union.sorted().map { ($0, backend.stats(for: $0)) },
            attribution: latestAttribution,
            capacity: registry.capacity, clients: clients.count, subscribers: subscriptions.count)
    }

    private func nextPass(
        connection: ConnectionID, held: Set<Watch> = [], heldFor uid: UInt32 = 0, collecting: BufferCollection,
        holders: HoldersWanted = .no, asker: UInt32? = nil
    ) async throws(MonitorError) -> PassOutcome {
        try await withCheckedContinuation { continuation in
            waiting.append(
                Waiter(
                    connection: connection, held: held, heldFor: uid, collecting: collecting, holders: holders,
                    asker: asker, continuation: continuation))
            schedulePass()
        }.get()
    }

    private func schedulePass() {
        guard !passScheduled else { return }
        passScheduled = true
        // Enqueued behind every request already in the actor's mailbox, so all of them
        // share this pass.
        Task { await self.runWaitingPass() }
    }

    private func runWaitingPass() async {
        await gather()
        let batch = waiting
        waiting = []
        passScheduled = false
        let subscribed = subscribersWantDetails ? BufferCollection.matched : .none
        let started = ContinuousClock.now
        let result = Result { () throws(ScannerError) in
            try backend.runPass(collecting: batch.map(\.collecting).reduce(subscribed, max))
        }
        statistics.record(result, started: started)
        // One walk for the whole batch, right after its pass.
        let askers = Set(batch.compactMap { $0.holders == .no ? nil : $0.asker })
        let holders =
            batch.contains { $0.holders != .no }
            ? Result { () throws(ScannerError) in try backend.readHolders(identifying: askers) } : nil
        if case .success(let report) = result, case .success(let walk) = holders,
            batch.contains(where: { $0.collecting == .all })
        {
            latestAttribution = LatestAttribution(report, holders: walk.holders)
        }
        for waiter in batch {
            let walk: Result<HolderWalk, ScannerError>?
            switch (waiter.holders, holders) {
            case (.required, let holders): walk = holders
            case (.ifAvailable, .success(let found)): walk = .success(found)
            default: walk = nil
            }
            waiter.continuation.resume(
                returning: outcome(
                    of: result, for: waiter.connection, adding: waiter.held, buffers: waiter.collecting != .none,
                    holders: walk, asker: waiter.asker))
            removeFromMaps(registry.release(waiter.held, chargedTo: waiter.heldFor))
        }
        publish(result)
    }

    /// Lets calls on their way join the pass about to start; requests that arrive
    /// meanwhile (the actor is free while this sleeps) append to `waiting`.
    private func gather() async {
        guard callsOnTheirWay.any else { return }
        let lastPass = Duration.nanoseconds(Int64(statistics.latest?.totals.durationNsec ?? 0))
        let deadline = ContinuousClock.now + lastPass
        while callsOnTheirWay.any, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .microseconds(50))
        }
    }

    private var subscribersWantDetails: Bool { subscriptions.values.contains(where: \.details) }

    /// Hands each subscriber its watch set's state, unless nothing any of them watches
    /// changed since the last time (they would send nothing).
    private func publish(_ result: Result<PassReport, ScannerError>) {
        guard !subscriptions.isEmpty else { return }
        if case .success(let report) = result {
            let state = PublishedState(
                stats: Dictionary(uniqueKeysWithValues: registry.union.map { ($0, backend.stats(for: $0)) }),
                records: subscribersWantDetails ? report.buffers : [])
            defer { published = state }
            if !subscribersStale, state == published { return }
        }
        subscribersStale = false
        for (connection, subscription) in subscriptions {
            subscription.updates.yield(outcome(of: result, for: connection, adding: [], buffers: subscription.details))
        }
    }

    /// What a pass says to one connection: its watch set plus `held`, with their stats.
    /// With `holders`, the walk that followed the pass too.
    private func outcome(
        of result: Result<PassReport, ScannerError>, for connection: ConnectionID, adding held: Set<Watch>,
        buffers: Bool, holders: Result<HolderWalk, ScannerError>? = nil, asker: UInt32? = nil
    ) -> SubscriptionUpdate {
        result.mapError(MonitorError.pass).flatMap { report in
            let watches =
                held.isEmpty
                ? registry.sortedWatchSet(of: connection) : registry.watchSet(of: connection).union(held).sorted()
            var outcome = PassOutcome(
                totals: report.totals, watches: watches.map { ($0, backend.stats(for: $0)) },
                buffers: buffers ? report.buffers : [])
            switch holders {
            case .success(let walk):
                outcome.holders = walk.holders
                outcome.askerNamespace = asker.flatMap { walk.identified[$0] }
            case .failure(let error): return .failure(.attribution(error))
            case nil: break
            }
            return .success(outcome)
        }
    }

    /// Plans a registry change, writes its new entries into the kernel maps, then records
    /// it; a refused write takes back the entries already written, and the registry stays
    /// as it was.
    @discardableResult
    private func apply(_ planning: () throws(WatchError) -> WatchRegistry.Plan) throws(MonitorError)
        -> WatchRegistry.Plan
    {
        let plan: WatchRegistry.Plan
        do {
            plan = try planning()
        } catch {
            throw .watch(error)
        }
        do {
            try backend.insert(plan.entering)
        } catch {
            throw MonitorError(inserting: error)
        }
        registry.commit(plan)
        return plan
    }

    private func removeFromMaps(_ leaving: [Watch]) {
        backend.remove(leaving)
    }
}
