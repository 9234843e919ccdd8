import DmabufScanner
import Synchronization

/// A backend in place of the kernel for the service's in-process tests: it holds a list
/// of buffers, and a pass counts them the way the BPF program does (per watched name and
/// prefix, per exporter, host totals, records when asked). It can be told to refuse a map
/// write or a pass, to check how each failure reaches the client.
final class FakeKernel: ScanBackend, Sendable {
    private struct State {
        var buffers: [BufferRecord] = []
        var watched: Set<Watch> = []
        var stats: [Watch: NameStats] = [:]
        var passes: UInt64 = 0
        var refusedInsert: Watch?
        var passFailure: String?
        var holders: Result<[HolderRecord], ScannerError> = .success([])
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 100, buffers: [BufferRecord] = []) {
        self.capacity = capacity
        state.withLock { $0.buffers = buffers }
    }

    /// A process's hold of a buffer, as the task iterators would report it.
    static func hold(
        _ buffer: BufferRecord, by pid: UInt32, uid: UInt32 = 0, command: String = "app", cgroup: UInt64 = 1,
        _ hold: HolderRecord.Hold = .fd(3)
    ) -> HolderRecord {
        HolderRecord(
            inode: buffer.inode, size: buffer.size, pid: pid, uid: uid, cgroupID: cgroup, command: command, hold: hold)
    }

    /// A buffer as the kernel would hold it (by one fd, unless `references` says more).
    static func buffer(
        _ inode: UInt64, _ name: String, size: UInt64 = 4096, exporter: String = "udmabuf", references: UInt64 = 1
    ) -> BufferRecord {
        BufferRecord(
            inode: inode, size: size, name: Array(name.utf8), exporter: Array(exporter.utf8), references: references)
    }

    /// From now on, inserting `watch` fails as a full kernel map would not: with EINVAL.
    func refuseInsert(of watch: Watch) { state.withLock { $0.refusedInsert = watch } }

    /// From now on every pass fails with `reason`.
    func failPasses(_ reason: String) { state.withLock { $0.passFailure = reason } }

    var watchedCount: Int { state.withLock { $0.watched.count } }

    func mapEntryCount() -> Int { watchedCount }

    /// All or none, as the real maps are written.
    func insert(_ watches: [Watch]) throws(ScannerError) {
        try state.withLock { (state) throws(ScannerError) in
            if let refused = state.refusedInsert, watches.contains(refused) {
                throw .mapUpdateFailed("Invalid argument (22)")
            }
            guard state.watched.union(watches).count <= capacity else { throw .capacityExhausted(capacity: capacity) }
            state.watched.formUnion(watches)
        }
    }

    func remove(_ watches: [Watch]) {
        state.withLock { $0.watched.subtract(watches) }
    }

    func runPass(collecting: BufferCollection) throws(ScannerError) -> PassReport {
        try state.withLock { (state) throws(ScannerError) in
            if let reason = state.passFailure { throw .passFailed(reason) }
            state.passes += 1
            state.stats = [:]
            var exporters: [[UInt8]: ExporterTotals] = [:]
            var records: [BufferRecord] = []
            for buffer in state.buffers {
                let matched = state.watched.filter { $0.matches(buffer.name) }
                for watch in matched {
                    let stats = state.stats[watch, default: .zero]
                    state.stats[watch] = NameStats(count: stats.count + 1, bytes: stats.bytes + buffer.size)
                }
                exporters[buffer.exporter, default: ExporterTotals(name: buffer.exporter, count: 0, bytes: 0)].count += 1
                exporters[buffer.exporter]!.bytes += buffer.size
                if collecting == .all || (collecting == .matched && !matched.isEmpty) { records.append(buffer) }
            }
            let totals = PassTotals(
                id: state.passes, startedUsec: 1_800_000_000_000_000, durationNsec: 1000,
                buffers: UInt64(state.buffers.count), bytes: state.buffers.reduce(0) { $0 + $1.size },
                exporters: exporters.values.sorted { $0.name.lexicographicallyPrecedes($1.name) })
            return PassReport(totals: totals, buffers: records)
        }
    }

    /// What the next walks of the holders find, or why they fail.
    func holders(_ holders: Result<[HolderRecord], ScannerError>) { state.withLock { $0.holders = holders } }

    func readHolders(identifying pids: Set<UInt32>) throws(ScannerError) -> HolderWalk {
        HolderWalk(holders: try state.withLock { $0.holders }.get())
    }

    func stats(for watch: Watch) -> NameStats {
        state.withLock { $0.watched.contains(watch) ? $0.stats[watch] ?? .zero : .zero }
    }
}
