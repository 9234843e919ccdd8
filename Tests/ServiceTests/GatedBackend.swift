import DmabufScanner
import DmabufSystem
import Synchronization

/// A backend in place of the kernel: it counts passes and can hold a pass open until told
/// to finish, to observe how requests that arrive during a pass are served. Every watched
/// name counts one buffer of as many bytes as the name is long. (The real program is
/// exercised by ScannerTests and the host tier; this isolates the service's own logic.)
final class GatedBackend: ScanBackend, Sendable {
    let capacity = 100
    var watchedCount: Int { names.withLock { $0.count } }
    func mapEntryCount() -> Int { watchedCount }
    let names = Mutex<Set<Watch>>([])
    let passes = Atomic<UInt64>(0)
    let entered = Atomic<UInt64>(0)
    let release = Atomic<UInt64>(UInt64.max)
    /// How long each pass says it took: what bounds the monitor's gathering before the next.
    let reportedDurationNsec = Atomic<Int64>(1)

    func insert(_ keys: [Watch]) throws(ScannerError) {
        names.withLock { $0.formUnion(keys) }
    }

    func remove(_ keys: [Watch]) {
        names.withLock { $0.subtract(keys) }
    }

    /// Pass `n` (1-based) blocks until `release` reaches `n`.
    func runPass(collecting: BufferCollection) throws(ScannerError) -> PassReport {
        let id = entered.add(1, ordering: .sequentiallyConsistent).newValue
        while release.load(ordering: .sequentiallyConsistent) < id { usleep(1000) }
        passes.store(id, ordering: .sequentiallyConsistent)
        let totals = PassTotals(
            id: id, startedUsec: 0, durationNsec: reportedDurationNsec.load(ordering: .sequentiallyConsistent),
            buffers: 0, bytes: 0)
        return PassReport(totals: totals, buffers: [])
    }

    func readHolders(identifying pids: Set<UInt32>) throws(ScannerError) -> HolderWalk { HolderWalk(holders: []) }

    func stats(for key: Watch) -> NameStats {
        names.withLock { $0.contains(key) } ? NameStats(count: 1, bytes: UInt64(key.bytes.count)) : .zero
    }
}

