import DmabufProtocol
import DmabufScanner
import NIOCore

/// Why the monitor could not serve a request.
public enum MonitorError: Error, Sendable {
    case watch(WatchError)
    case pass(ScannerError)
    case mapWrite(ScannerError)
}

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
}

/// The one owner of the BPF program and of who watches what. Every map write and every
/// pass happens here, on a thread of its own (the pass is a blocking syscall), so a
/// pass never interleaves with a watch change.
///
/// Passes are single-flight with freshness: a request waits for the next pass that
/// starts after it arrived, and every request that arrives while a pass runs shares
/// the one after it.
public actor BufferMonitor {
    public nonisolated let unownedExecutor: UnownedSerialExecutor
    private let runner: any PassRunner
    private var registry: WatchRegistry
    private var clients: Set<ConnectionID> = []
    private var waiting: [Waiter] = []
    private var passScheduled = false
    private var passes = 0

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

    /// A closed connection's watches die with it.
    public func disconnect(_ connection: ConnectionID) {
        clients.remove(connection)
        registry.drop(connection, remove: removeFromMap)
    }

    public func watch(_ names: [Watch], by connection: ConnectionID, quota: Int) throws(MonitorError)
        -> Set<Watch>
    {
        try mapped { try registry.watch(names, by: connection, quota: quota, insert: insertIntoMap, remove: removeFromMap) }
    }

    public func unwatch(_ names: [Watch], by connection: ConnectionID) -> Set<Watch> {
        registry.unwatch(names, by: connection, remove: removeFromMap)
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

    public func status() -> MonitorStatus {
        MonitorStatus(clients: clients.count, watched: registry.mappedCount, capacity: registry.capacity, passes: passes)
    }

    private func nextPass(connection: ConnectionID, held: Set<Watch>, collecting: BufferCollection) async throws
        -> PassOutcome
    {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append(Waiter(connection: connection, held: held, collecting: collecting, continuation: continuation))
            guard !passScheduled else { return }
            passScheduled = true
            // Enqueued behind every request already in the actor's mailbox, so all of
            // them share this pass.
            Task { self.runWaitingPass() }
        }
    }

    private func runWaitingPass() {
        let batch = waiting
        waiting = []
        passScheduled = false
        let result = Result { () throws(ScannerError) in
            try runner.runPass(collecting: batch.map(\.collecting).max() ?? .none)
        }
        if case .success = result { passes += 1 }
        for waiter in batch {
            switch result {
            case .success(let report):
                let watches = registry.watchSet(of: waiter.connection).union(waiter.held).sorted()
                waiter.continuation.resume(
                    returning: PassOutcome(
                        totals: report.totals,
                        watches: watches.map { ($0, runner.stats(for: $0.key)) },
                        buffers: waiter.collecting == .none ? [] : report.buffers))
            case .failure(let error):
                waiter.continuation.resume(throwing: MonitorError.pass(error))
            }
            registry.release(waiter.held, remove: removeFromMap)
        }
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
