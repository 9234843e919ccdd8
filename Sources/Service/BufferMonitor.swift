import DmabufProtocol
import DmabufScanner
import NIOCore
import VarlinkServer

/// Why the monitor could not serve a request.
public enum MonitorError: Error, Sendable {
    case watch(WatchError)
    case pass(ScannerError)
    case mapWrite(ScannerError)
    /// The connection's subscription is still running.
    case alreadySubscribed
}

/// What one pass tells one subscriber: its watch set's state, or why the pass failed.
public typealias SubscriptionUpdate = Result<PassOutcome, MonitorError>

/// What one pass answered to one request.
public struct PassOutcome: Sendable {
    public var totals: PassTotals
    /// The requester's names and prefixes (its watch set plus what it asked for), sorted,
    /// with their stats.
    public var watches: [(watch: Watch, stats: NameStats)]
    /// The buffers whose records the request asked for (every buffer, or those that matched
    /// a watched name or prefix, possibly more); empty unless it asked.
    public var buffers: [BufferRecord]
}

/// A snapshot for `Status`.
public struct MonitorStatus: Sendable {
    public var clients: Int
    public var watched: Int
    public var capacity: Int
    public var passes: Int
    public var mapEntries: Int
    /// The latest pass's exporters; nil before the first pass.
    public var exporters: [ExporterTotals]?
}

/// What the monitor tells a metrics scrape: the passes so far (the latest one among them),
/// and every watched name as the latest saw it.
public struct MonitorMetrics: Sendable {
    public var statistics: PassStatistics
    /// Every name and prefix in the kernel map, sorted, with its stats.
    public var watches: [(watch: Watch, stats: NameStats)]
    public var capacity: Int
    public var clients: Int
    public var subscribers: Int
}

/// The one owner of the BPF program and of who watches what. Every map write and every
/// pass happens here, on a thread of its own (the pass is a blocking syscall), so a
/// pass never interleaves with a watch change.
///
/// Passes are single-flight with freshness: a request waits for the next pass that
/// starts after it arrived, and every request that arrives while a pass runs shares
/// the one after it. While anyone subscribes, a pass also runs every interval (the
/// smallest any subscriber asked for), and every pass, whoever asked for it, updates
/// every subscriber.
public actor BufferMonitor {
    public nonisolated let unownedExecutor: UnownedSerialExecutor
    private let runner: any PassRunner
    private var registry: WatchRegistry
    private var clients: Set<ConnectionID> = []
    private var waiting: [Waiter] = []
    private var passScheduled = false
    private var statistics = PassStatistics()
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
        let collecting: BufferCollection
        let continuation: CheckedContinuation<PassOutcome, any Error>
    }

    /// - Parameter eventLoop: the thread every pass and map write runs on; give the
    ///   monitor one of its own so a pass never stalls socket I/O.
    public init(runner: sending any PassRunner, eventLoop: any EventLoop) {
        self.runner = runner
        self.registry = WatchRegistry(capacity: runner.capacity)
        self.unownedExecutor = eventLoop.executor.asUnownedSerialExecutor()
    }

    public func connect(_ connection: ConnectionID) {
        clients.insert(connection)
    }

    /// A closed connection's watches and subscription die with it.
    public func disconnect(_ connection: ConnectionID) {
        subscribersStale = true
        clients.remove(connection)
        registry.drop(connection, remove: removeFromMap)
        subscriptions.removeValue(forKey: connection)?.updates.finish()
        retime()
    }

    public func watch(_ names: [Watch], by connection: ConnectionID, quota: Int) throws(MonitorError)
        -> Set<Watch>
    {
        subscribersStale = true
        return try mapped { try registry.watch(names, by: connection, quota: quota, insert: insertIntoMap, remove: removeFromMap) }
    }

    public func unwatch(_ names: [Watch], by connection: ConnectionID) -> Set<Watch> {
        subscribersStale = true
        return registry.unwatch(names, by: connection, remove: removeFromMap)
    }

    /// Runs (or joins) the next pass and reports the connection's watch set plus `extra`;
    /// with `details`, also the records of the buffers that matched.
    public func scan(_ extra: [Watch], by connection: ConnectionID, quota: Int, details: Bool = false) async throws
        -> PassOutcome
    {
        let held = try mapped {
            try registry.holdForScan(extra, by: connection, quota: quota, insert: insertIntoMap, remove: removeFromMap)
        }
        return try await nextPass(connection: connection, held: held, collecting: details ? .matched : .none)
    }

    /// Runs (or joins) the next pass with every buffer's record collected.
    public func list(by connection: ConnectionID) async throws -> PassOutcome {
        try await nextPass(connection: connection, held: [], collecting: .all)
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

    public func status() -> MonitorStatus {
        MonitorStatus(
            clients: clients.count, watched: registry.mappedCount, capacity: registry.capacity,
            passes: statistics.passes, mapEntries: runner.mapEntryCount(),
            exporters: statistics.latest?.totals.exporters)
    }

    /// The metrics as of the latest pass if it started less than `maxAge` ago, else as of
    /// a new one (joined if one is about to start). Scrapes alone therefore start at most
    /// one pass per `maxAge`, however often they come.
    public func metrics(maxAge: Duration) async throws -> MonitorMetrics {
        if !statistics.isFresh(within: maxAge, at: .now) {
            _ = try await nextPass(connection: .service, held: [], collecting: .none)
        }
        return MonitorMetrics(
            statistics: statistics, watches: registry.mapped.sorted().map { ($0, runner.stats(for: $0.key)) },
            capacity: registry.capacity, clients: clients.count, subscribers: subscriptions.count)
    }

    private func nextPass(connection: ConnectionID, held: Set<Watch>, collecting: BufferCollection) async throws
        -> PassOutcome
    {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append(Waiter(connection: connection, held: held, collecting: collecting, continuation: continuation))
            schedulePass()
        }
    }

    private func schedulePass() {
        guard !passScheduled else { return }
        passScheduled = true
        // Enqueued behind every request already in the actor's mailbox, so all of them
        // share this pass.
        Task { self.runWaitingPass() }
    }

    private func runWaitingPass() {
        let batch = waiting
        waiting = []
        passScheduled = false
        let subscribed = subscribersWantDetails ? BufferCollection.matched : .none
        let started = ContinuousClock.now
        let result = Result { () throws(ScannerError) in
            try runner.runPass(collecting: batch.map(\.collecting).reduce(subscribed, max))
        }
        statistics.record(result, started: started)
        for waiter in batch {
            waiter.continuation.resume(
                with: outcome(of: result, for: waiter.connection, adding: waiter.held, buffers: waiter.collecting != .none))
            registry.release(waiter.held, remove: removeFromMap)
        }
        publish(result)
    }

    private var subscribersWantDetails: Bool { subscriptions.values.contains(where: \.details) }

    /// Hands each subscriber its watch set's state, unless nothing any of them watches
    /// changed since the last time (they would send nothing).
    private func publish(_ result: Result<PassReport, ScannerError>) {
        guard !subscriptions.isEmpty else { return }
        if case .success(let report) = result {
            let state = PublishedState(
                stats: Dictionary(uniqueKeysWithValues: registry.mapped.map { ($0, runner.stats(for: $0.key)) }),
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
    private func outcome(
        of result: Result<PassReport, ScannerError>, for connection: ConnectionID, adding held: Set<Watch>,
        buffers: Bool
    ) -> SubscriptionUpdate {
        result.map { report in
            let watches =
                held.isEmpty
                ? registry.sortedWatchSet(of: connection) : registry.watchSet(of: connection).union(held).sorted()
            return PassOutcome(
                totals: report.totals, watches: watches.map { ($0, runner.stats(for: $0.key)) },
                buffers: buffers ? report.buffers : [])
        }.mapError(MonitorError.pass)
    }

    private func insertIntoMap(_ watch: Watch) throws {
        try runner.insert(watch.key)
    }

    private func removeFromMap(_ watch: Watch) {
        runner.remove(watch.key)
    }

    /// Runs a registry change, translating its failures into `MonitorError`.
    private func mapped<T>(_ body: () throws -> T) throws(MonitorError) -> T {
        do {
            return try body()
        } catch let error as WatchError {
            throw .watch(error)
        } catch let error as ScannerError {
            if case .capacityExhausted(let capacity) = error { throw .watch(.capacityExhausted(capacity: capacity)) }
            throw .mapWrite(error)
        } catch {
            preconditionFailure("unexpected error from a registry change: \(error)")
        }
    }
}
