import DmabufProtocol
import DmabufScanner

// The monitor's results as io.dmabufd.Monitor's types: what each reply carries.

extension ScanReply {
    /// What a pass saw of a request's watches; with `details`, each match lists its buffers;
    /// with `holders`, the processes that hold them, those `holders` lets the caller see.
    init(_ outcome: PassOutcome, details: Bool, holders: ((HolderRecord) -> Bool)? = nil, pids: PidView? = nil) {
        self.init(
            matches: outcome.matches(details: details, holders: holders, pids: pids),
            scan: ScanInfo(outcome.totals))
    }
}

extension PassOutcome {
    /// One match per watch, in the order of `watches`. `holders`: which of the walk's
    /// records the caller may see; nil for no holders.
    func matches(details: Bool, holders visible: ((HolderRecord) -> Bool)? = nil, pids: PidView? = nil) -> [Match] {
        let records = visible.map { (self.holders ?? []).filter($0) }
        return watches.map { watch, stats in
            let matched = buffers.filter { watch.matches($0.name) }
            return Match(
                watch: watch, stats: stats, buffers: details ? matched : nil,
                holders: records.map { Holder.holding(Set(matched.map(\.inode)), in: $0, pids: pids) })
        }
    }
}

extension Holder {
    /// The processes among `records` that hold any of `inodes`, each with the total size of
    /// those it holds (each buffer once), largest first, then by pid.
    static func holding(_ inodes: Set<UInt64>, in records: [HolderRecord], pids: PidView?) -> [Holder] {
        var held: [UInt32: (pid: Int, command: String, sizes: [UInt64: UInt64])] = [:]
        for record in records where inodes.contains(record.inode) {
            held[record.pid, default: (pids?.pid(of: record) ?? Int(record.pid), record.command, [:])]
                .sizes[record.inode] = record.size
        }
        return held.values.map { Holder(pid: $0.pid, command: $0.command, bytes: Int($0.sizes.values.reduce(0, +))) }
            .sorted { ($0.bytes, $1.pid) > ($1.bytes, $0.pid) }
    }
}

extension Match {
    /// `buffers`: the records of the buffers that matched, when details were asked for.
    init(watch: Watch, stats: NameStats, buffers: [BufferRecord]?, holders: [Holder]? = nil) {
        self.init(
            name: watch.text, prefix: watch.kind == .prefix, present: stats.count > 0,
            count: Int(stats.count), bytes: Int(stats.bytes),
            buffers: buffers?.sorted { $0.inode < $1.inode }.map(Buffer.init(record:)), holders: holders)
    }
}

extension WatchReply {
    /// A connection's watch set, names and prefixes apart, each sorted.
    init(_ set: Set<Watch>) {
        let sorted = set.sorted()
        self.init(
            names: sorted.filter { $0.kind == .name }.map(\.text),
            prefixes: sorted.filter { $0.kind == .prefix }.map(\.text))
    }
}

extension ScanInfo {
    /// `details_dropped` stays absent: a pass collects every record it is asked for.
    init(_ totals: PassTotals) {
        self.init(
            id: Int(totals.id), startedUsec: Int(totals.startedUsec), durationNsec: Int(totals.durationNsec),
            buffers: Int(totals.buffers), bytes: Int(totals.bytes),
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
            inode: Int(record.inode), size: Int(record.size), nameBytes: record.name, exporterBytes: record.exporter,
            references: Int(record.references))
    }
}

extension Process {
    init(_ holding: Attribution.Holding, in attribution: Attribution, cgroup: String, pids: PidView) {
        self.init(
            pid: pids.pid(of: holding), uid: Int(holding.uid), command: holding.command, cgroup: cgroup,
            rss: Int(holding.rss), pss: Int(attribution.pss(of: holding)), buffers: holding.sizes.count,
            fds: holding.fds, mappings: holding.mappings.count)
    }

    /// Largest pss first, then by pid.
    static func byShare(_ lhs: Process, _ rhs: Process) -> Bool {
        (lhs.pss, rhs.pid) > (rhs.pss, lhs.pid)
    }
}

extension Cgroup {
    init(path: String, _ subtree: Attribution.Subtree) {
        self.init(
            path: path, rss: Int(subtree.rss), pss: Int(subtree.pss), buffers: subtree.sizes.count,
            processes: subtree.processes)
    }
}

extension ProcessesReply {
    /// Who held the pass's buffers, largest pss first. `visibleTo`: only that uid's
    /// processes, for a client the policy does not show every process to.
    init(_ outcome: PassOutcome, visibleTo uid: UInt32?, cgroups: CgroupPaths, pids: PidView) {
        let attribution = Attribution(holders: outcome.holders ?? [])
        let processes = attribution.holdings.values
            .filter { uid == nil || $0.uid == uid }
            .map { Process($0, in: attribution, cgroup: cgroups.path(of: $0.cgroupID), pids: pids) }
            .sorted(by: Process.byShare)
        let held = attribution.kernelHeld(among: outcome.buffers)
        self.init(
            processes: processes, kernelHeld: KernelHeld(count: held.count, bytes: Int(held.bytes)),
            scan: ScanInfo(outcome.totals))
    }
}

extension CgroupsReply {
    /// Every cgroup whose subtree held a buffer, by path: a parent before its children.
    init(_ outcome: PassOutcome, cgroups: CgroupPaths) {
        let attribution = Attribution(holders: outcome.holders ?? [])
        let subtrees = attribution.subtrees { cgroups.path(of: $0.cgroupID) }
        self.init(
            cgroups: subtrees.map { Cgroup(path: $0.key, $0.value) }.sorted { $0.path < $1.path },
            scan: ScanInfo(outcome.totals))
    }
}

extension MineReply {
    /// The subtree of the cgroup at `path`: its totals (zero when it holds nothing) and its
    /// processes, largest pss first, whatever their uid.
    init(_ outcome: PassOutcome, cgroup path: String, cgroups: CgroupPaths, pids: PidView) {
        let attribution = Attribution(holders: outcome.holders ?? [])
        let processes = attribution.holdings.values
            .map { ($0, cgroups.path(of: $0.cgroupID)) }
            .filter { Attribution.isWithin($0.1, path) }
            .map { Process($0.0, in: attribution, cgroup: $0.1, pids: pids) }
            .sorted(by: Process.byShare)
        let subtree = attribution.subtrees { cgroups.path(of: $0.cgroupID) }[path] ?? Attribution.Subtree()
        self.init(cgroup: Cgroup(path: path, subtree), processes: processes, scan: ScanInfo(outcome.totals))
    }
}
