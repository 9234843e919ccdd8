import CLibbpf
import DmabufSystem

/// The loaded dmabufd BPF program: the one owner of libbpf state in the
/// process. Not thread-safe; one owner (an actor) serialises its calls.
///
/// Pass ids: userspace writes a fresh stamp into the program's globals before
/// every run (even one that then fails), and the program stamps each watched
/// slot it touches with it, resetting the slot first when its stamp is older
/// (lazy refresh, no reset pass). A slot reads as zero unless its stamp is the
/// last completed run's. The public `PassTotals.id` counts completed passes.
public final class DmabufProgram: ScanBackend {
    public let capacity: Int
    public var watchedCount: Int { slotsByWatch.count }

    private let loaded: LoadedProgram
    private let maps: WatchMaps
    private let records: RecordReader
    /// Who holds each buffer; nil when the kernel or the load refused the iterators.
    private let holders: Result<HolderIterators, ScannerError>
    private let globals: UnsafeMutablePointer<dmabufd_globals>
    private let slots: UnsafeMutablePointer<dmabufd_slot_stats>

    private var allocator: SlotAllocator
    private var slotsByWatch: [Watch: UInt32] = [:]
    /// Keys a failed delete left in the kernel maps (their slots are never reused).
    private var keysLeftBehind: Set<Watch> = []
    /// Watched prefixes by length in bytes (index 0 unused): what the program's
    /// `prefix_lengths` bitmask says.
    private var prefixesByLength = [Int](repeating: 0, count: Int(DMABUFD_NAME_LEN))
    /// The stamp of the latest run, and of the latest run that completed (0 = none yet).
    private var runStamp: UInt64 = 0
    private var completedStamp: UInt64 = 0
    private var completedPasses: UInt64 = 0

    /// Checks the kernel and privileges, then opens, sizes and loads the
    /// embedded program: `capacity` watched names, a `ringBytes` ring buffer
    /// (a power of two, at least a page) for per-buffer records: a listing that does
    /// not fit takes several runs of the program.
    public init(capacity: Int, ringBytes: Int = ProgramSizes.defaultRingBytes) throws(ScannerError) {
        let loaded = try ProgramLoader.load(capacity: capacity, ringBytes: ringBytes)
        records = RecordReader(mapFD: loaded.recordsFD)
        maps = WatchMaps(watchedFD: loaded.watchedFD, prefixesFD: loaded.prefixesFD)
        self.loaded = loaded
        self.capacity = capacity
        // Attribution is worth having, not worth refusing to start over.
        holders = Result { () throws(ScannerError) in
            guard KernelProbe.hasTaskIterators() else {
                throw .attributionUnavailable(
                    "kernel \(KernelProbe.release()) has no task iterators (iter/task_file, iter/task_vma)")
            }
            return try HolderIterators()
        }
        allocator = SlotAllocator(capacity: capacity)
        globals = loaded.globals.base.bindMemory(to: dmabufd_globals.self, capacity: 1)
        slots = loaded.stats.base.bindMemory(to: dmabufd_slot_stats.self, capacity: capacity)
    }

    deinit {
        records.unmap()
        loaded.release()
    }

    public func insert(_ watches: [Watch]) throws(ScannerError) {
        for watch in watches {
            let name = watch.bytes
            guard (1..<Int(DMABUFD_NAME_LEN)).contains(name.count), !name.contains(0) else {
                throw .mapUpdateFailed("a watched name or prefix is 1 to \(DMABUFD_NAME_LEN - 1) bytes without NUL")
            }
        }
        var seen = Set<Watch>()
        let new = watches.filter { slotsByWatch[$0] == nil && seen.insert($0).inserted }
        guard !new.isEmpty else { return }
        guard allocator.available >= new.count else { throw .capacityExhausted(capacity: capacity) }
        let entries = new.map { watch in
            let slot = allocator.allocate()!
            // A reused slot may still hold its last owner's numbers stamped with the last pass.
            slots[Int(slot)] = dmabufd_slot_stats()
            return (watch: watch, slot: slot)
        }
        if let err = maps.insert(entries) {
            for entry in entries { allocator.release(entry.slot) }
            if -err == E2BIG { throw .capacityExhausted(capacity: capacity) }
            throw .mapUpdateFailed(libbpfErrorText(err))
        }
        for (watch, slot) in entries {
            slotsByWatch[watch] = slot
            keysLeftBehind.remove(watch)
            if watch.kind == .prefix { prefixWatched(length: watch.bytes.count, by: 1) }
        }
    }

    public func remove(_ watches: [Watch]) {
        let leaving = watches.filter { slotsByWatch[$0] != nil }
        // A key that stayed in its map would keep the program counting into its slot:
        // that slot stays out of the free list rather than go to another key.
        let stayed = Set(maps.remove(leaving))
        for watch in leaving {
            guard let slot = slotsByWatch.removeValue(forKey: watch) else { continue }
            if watch.kind == .prefix { prefixWatched(length: watch.bytes.count, by: -1) }
            if stayed.contains(watch) {
                keysLeftBehind.insert(watch)
            } else {
                allocator.release(slot)
            }
        }
    }

    /// A listing larger than the ring takes several windows; when the buffers change
    /// between two of them, the listing starts over, this many times at most.
    static let listingAttempts = 3

    /// Counts a prefix of `length` bytes in or out, and tells the program which lengths to look up.
    private func prefixWatched(length: Int, by change: Int) {
        prefixesByLength[length] += change
        let bit = UInt32(1) << UInt32(length - 1)
        if prefixesByLength[length] > 0 {
            globals.pointee.prefix_lengths |= bit
        } else {
            globals.pointee.prefix_lengths &= ~bit
        }
    }

    public func runPass(collecting: BufferCollection) throws(ScannerError) -> PassReport {
        guard collecting != .none else {
            let run = try run(collecting: .none, recordsFrom: 0)
            return PassReport(totals: completed(run), buffers: [])
        }
        defer { records.unmap() }
        var windows = 0
        for _ in 1...Self.listingAttempts {
            if let (run, buffers) = try list(collecting, windows: &windows) {
                return PassReport(totals: completed(run), buffers: buffers)
            }
        }
        throw .listingUnsettled(attempts: Self.listingAttempts, windows: windows)
    }

    /// One program run and what it wrote back.
    private struct Run {
        var results: dmabufd_globals
        var startedUsec: Int64
        var durationNsec: Int64
    }

    /// Runs the program once, records (if any) from walk position `recordsFrom` on.
    private func run(collecting: BufferCollection, recordsFrom: UInt64) throws(ScannerError) -> Run {
        runStamp += 1
        globals.pointee.pass_id = runStamp
        globals.pointee.collect_buffers = Self.collectMode(collecting)
        globals.pointee.records_from = recordsFrom

        let started = Clock.realtimeMicroseconds()
        let before = Clock.monotonicNanoseconds()
        var retval: UInt32 = 0
        let err = CLibbpf_prog_test_run(loaded.programFD, &retval)
        let duration = Clock.monotonicNanoseconds() - before
        let results = globals.pointee
        let failure: String? =
            if err != 0 { "BPF_PROG_TEST_RUN: \(libbpfErrorText(err))" }
            else if retval != 0 { "the program returned \(retval)" }
            else if results.finished_pass_id != runStamp { "the program did not finish the pass (globals not updated)" }
            else { nil }
        if let failure {
            // Whatever the run sent must not reach the next listing.
            if collecting != .none { _ = try? records.drain() }
            throw .passFailed(failure)
        }
        return Run(results: results, startedUsec: started, durationNsec: duration)
    }

    /// One listing: windows until every record is in, each window starting where the
    /// last one's ring filled. Nil when two windows walked different buffers (one was
    /// created or freed between them): their records would not make one snapshot.
    private func list(_ collecting: BufferCollection, windows: inout Int) throws(ScannerError)
        -> (Run, [BufferRecord])?
    {
        var buffers: [BufferRecord] = []
        var first: Run?
        var from: UInt64 = 0
        while true {
            var run = try run(collecting: collecting, recordsFrom: from)
            windows += 1
            buffers += try records.drain()
            if let first {
                guard run.results.buffers == first.results.buffers,
                    run.results.walk_fingerprint == first.results.walk_fingerprint
                else { return nil }
                run.startedUsec = first.startedUsec
                run.durationNsec += first.durationNsec
            }
            let next = run.results.records_resume_at
            if next >= run.results.buffers { return (run, buffers) }
            // A drained ring holds at least a page of records: every window gets further.
            guard next > from || first == nil else {
                throw .passFailed("the ring buffer took no record at walk position \(next)")
            }
            first = run
            from = next
        }
    }

    /// Marks a run (or a listing's last window) as the latest completed pass.
    private func completed(_ run: Run) -> PassTotals {
        completedStamp = runStamp
        completedPasses += 1
        return PassTotals(
            id: completedPasses, startedUsec: run.startedUsec, durationNsec: run.durationNsec,
            buffers: run.results.buffers, bytes: run.results.bytes, exporters: exporterTotals())
    }

    /// Why attribution is unavailable, or nil when it works.
    public var attributionProblem: ScannerError? {
        if case .failure(let error) = holders { return error }
        return nil
    }

    public func readHolders(identifying pids: Set<UInt32>) throws(ScannerError) -> HolderWalk {
        try holders.get().read(identifying: pids)
    }

    public func stats(for watch: Watch) -> NameStats {
        guard let slot = slotsByWatch[watch], completedStamp != 0 else { return .zero }
        let s = slots[Int(slot)]
        guard s.pass_id == completedStamp else { return .zero }
        return NameStats(count: s.count, bytes: s.bytes)
    }

    /// The "exporters" entries of the run that just completed, by name; the entries of
    /// exporters it did not see (all their buffers gone) are deleted, so the map never
    /// fills with the dead.
    private func exporterTotals() -> [ExporterTotals] {
        let fd = loaded.exportersFD
        var totals: [ExporterTotals] = []
        var stale: [[UInt8]] = []
        var key = [UInt8](repeating: 0, count: Int(DMABUFD_NAME_LEN))
        var next = key
        var value = dmabufd_slot_stats()
        var err = bpf_map_get_next_key(fd, nil, &next)
        while err == 0 {
            key = next
            if bpf_map_lookup_elem(fd, &key, &value) == 0 {
                if value.pass_id == runStamp {
                    totals.append(ExporterTotals(name: Array(key.prefix { $0 != 0 }), count: value.count, bytes: value.bytes))
                } else {
                    stale.append(key)
                }
            }
            err = bpf_map_get_next_key(fd, &key, &next)
        }
        for var key in stale { bpf_map_delete_elem(fd, &key) }
        return totals.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// Counted as the maps are written (this object is their only writer), so Status
    /// costs no syscall per name.
    public func mapEntryCount() -> Int {
        slotsByWatch.count + keysLeftBehind.count
    }

    /// The keys in the kernel maps, walked one by one: what `mapEntryCount` must equal.
    func kernelMapKeyCount() -> Int {
        maps.keyCount()
    }

    private static func collectMode(_ collecting: BufferCollection) -> UInt32 {
        switch collecting {
        case .none: return UInt32(DMABUFD_COLLECT_NONE.rawValue)
        case .matched: return UInt32(DMABUFD_COLLECT_MATCHED.rawValue)
        case .all: return UInt32(DMABUFD_COLLECT_ALL.rawValue)
        }
    }
}
