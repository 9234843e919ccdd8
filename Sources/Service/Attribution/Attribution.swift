import DmabufScanner

/// Who holds what: one pass's buffers joined with one walk of the holders, on the inode.
///
/// Linear in the records: one dictionary entry per (process, buffer) and one count per
/// buffer, so 250,000 buffers across 1,000 processes cost a few passes over arrays, not
/// a product of the two.
struct Attribution {
    /// One process's holds.
    struct Holding: Equatable {
        var pid: UInt32
        var namespacedPID: UInt32
        var pidNamespace: UInt64
        var uid: UInt32
        var command: String
        var cgroupID: UInt64
        /// Distinct buffers, inode → size.
        var sizes: [UInt64: UInt64] = [:]
        var fds = 0
        /// Mappings, by start address: threads that share a memory map report it once.
        var mappings: Set<UInt64> = []

        var rss: UInt64 { sizes.values.reduce(0, +) }
    }

    /// Every process that holds a buffer, by pid.
    private(set) var holdings: [UInt32: Holding] = [:]
    /// How many distinct processes hold each buffer.
    private(set) var holdersOfBuffer: [UInt64: Int] = [:]

    init(holders: [HolderRecord]) {
        for record in holders {
            holdings[record.pid, default: Holding(
                pid: record.pid, namespacedPID: record.namespacedPID, pidNamespace: record.pidNamespace,
                uid: record.uid, command: record.command, cgroupID: record.cgroupID)]
                .add(record)
        }
        for holding in holdings.values {
            for inode in holding.sizes.keys { holdersOfBuffer[inode, default: 0] += 1 }
        }
    }

    /// A process's share of what it holds: each buffer's size divided by its holders,
    /// rounded down per buffer.
    func pss(of holding: Holding) -> UInt64 {
        holding.sizes.reduce(0) { $0 + $1.value / UInt64(holdersOfBuffer[$1.key] ?? 1) }
    }

    /// The buffers of a pass that no process holds: the kernel holds them alone.
    func kernelHeld(among buffers: [BufferRecord]) -> (count: Int, bytes: UInt64) {
        buffers.reduce(into: (0, 0)) { held, buffer in
            if holdersOfBuffer[buffer.inode] == nil {
                held.count += 1
                held.bytes += buffer.size
            }
        }
    }
}

extension Attribution {
    /// What one cgroup subtree holds: each process counts in its own cgroup and in every
    /// cgroup above it.
    struct Subtree: Equatable {
        /// Distinct buffers, inode → size.
        var sizes: [UInt64: UInt64] = [:]
        var pss: UInt64 = 0
        var processes = 0

        var rss: UInt64 { sizes.values.reduce(0, +) }
    }

    /// Every cgroup whose subtree holds a buffer, by path; `path` names each holder's.
    func subtrees(path: (Holding) -> String) -> [String: Subtree] {
        var subtrees: [String: Subtree] = [:]
        for holding in holdings.values {
            let share = pss(of: holding)
            for cgroup in Self.lineage(of: path(holding)) {
                subtrees[cgroup, default: Subtree()].add(holding, pss: share)
            }
        }
        return subtrees
    }

    /// A cgroup and every cgroup above it: /a/b, /a, /. An unknown one ("") is alone.
    static func lineage(of path: String) -> [String] {
        guard path.hasPrefix("/") else { return [path] }
        var lineage = [path]
        var rest = Substring(path)
        while let slash = rest.lastIndex(of: "/"), slash != rest.startIndex {
            rest = rest[..<slash]
            lineage.append(String(rest))
        }
        if path != "/" { lineage.append("/") }
        return lineage
    }

    /// Whether a cgroup is `root` or below it.
    static func isWithin(_ path: String, _ root: String) -> Bool {
        path == root || root == "/" || path.hasPrefix(root + "/")
    }
}

extension Attribution.Subtree {
    fileprivate mutating func add(_ holding: Attribution.Holding, pss share: UInt64) {
        sizes.merge(holding.sizes) { size, _ in size }
        pss += share
        processes += 1
    }
}

extension Attribution.Holding {
    fileprivate mutating func add(_ record: HolderRecord) {
        sizes[record.inode] = record.size
        switch record.hold {
        case .fd: fds += 1
        case .mapping(let start): mappings.insert(start)
        case .identity: break  // a walk's identities are not holds (HolderWalk keeps them apart)
        }
    }
}
