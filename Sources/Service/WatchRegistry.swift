import DmabufProtocol
import VarlinkServer

extension ConnectionID {
    /// The service itself, when it needs a pass for its own use (a metrics scrape). No
    /// client has it: clients are numbered from 1, and it never watches anything.
    public static let service = ConnectionID(0)
}

/// Why a watch change was refused; nothing of the call was applied.
public enum WatchError: Error, Equatable, Sendable {
    /// The connection would hold more names and prefixes than its quota.
    case tooManyNames(limit: Int)
    /// The kernel maps would hold more names and prefixes than their capacity.
    case capacityExhausted(capacity: Int)
}

/// Who watches what: each connection's own set of names and prefixes, and the
/// reference-counted union that the BPF maps must hold. An entry stays in the maps while
/// any connection watches it or any in-flight `Scan` asked for it.
///
/// Every change either applies whole or not at all: the map is written first, through
/// the caller's closures, and rolled back if a write fails; the registry's own state
/// changes only after the map agrees.
public struct WatchRegistry: Sendable {
    public let capacity: Int
    private var holders: [Watch: Int] = [:]
    private var sets: [ConnectionID: Set<Watch>] = [:]
    /// Each set sorted, kept as the sets change: replies list watches in order, and there
    /// are many more replies than watch changes.
    private var sortedSets: [ConnectionID: [Watch]] = [:]

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// Names and prefixes the kernel maps hold now.
    public var mappedCount: Int { holders.count }

    /// The names and prefixes themselves.
    public var mapped: Dictionary<Watch, Int>.Keys { holders.keys }

    public func watchSet(of connection: ConnectionID) -> Set<Watch> {
        sets[connection] ?? []
    }

    /// `watchSet(of:)` in order.
    public func sortedWatchSet(of connection: ConnectionID) -> [Watch] {
        sortedSets[connection] ?? []
    }

    /// Adds `names` to the connection's set and returns the set as it is afterwards.
    public mutating func watch(
        _ names: [Watch], by connection: ConnectionID, quota: Int,
        insert: (Watch) throws -> Void, remove: (Watch) -> Void
    ) throws -> Set<Watch> {
        let current = watchSet(of: connection)
        let added = Set(names).subtracting(current)
        guard current.count + added.count <= quota else { throw WatchError.tooManyNames(limit: quota) }
        try retain(added, insert: insert, remove: remove)
        let updated = current.union(added)
        store(updated, for: connection)
        return updated
    }

    /// Removes `names` from the connection's set (names it does not watch are ignored)
    /// and returns the set as it is afterwards.
    public mutating func unwatch(
        _ names: [Watch], by connection: ConnectionID, remove: (Watch) -> Void
    ) -> Set<Watch> {
        let current = watchSet(of: connection)
        let removed = current.intersection(names)
        release(removed, remove: remove)
        let updated = current.subtracting(removed)
        store(updated, for: connection)
        return updated
    }

    /// Forgets a closed connection: its names leave the map unless someone else holds them.
    public mutating func drop(_ connection: ConnectionID, remove: (Watch) -> Void) {
        guard let set = sets.removeValue(forKey: connection) else { return }
        sortedSets[connection] = nil
        release(set, remove: remove)
    }

    private mutating func store(_ set: Set<Watch>, for connection: ConnectionID) {
        sets[connection] = set.isEmpty ? nil : set
        sortedSets[connection] = set.isEmpty ? nil : set.sorted()
    }

    /// Holds `names` in the map for one pass on behalf of a `Scan` that asked for them
    /// without watching them; the quota counts them together with the connection's set.
    /// Returns what to hand back to `release` after the pass.
    public mutating func holdForScan(
        _ names: [Watch], by connection: ConnectionID, quota: Int,
        insert: (Watch) throws -> Void, remove: (Watch) -> Void
    ) throws -> Set<Watch> {
        let extra = Set(names).subtracting(watchSet(of: connection))
        guard watchSet(of: connection).count + extra.count <= quota else {
            throw WatchError.tooManyNames(limit: quota)
        }
        try retain(extra, insert: insert, remove: remove)
        return extra
    }

    /// Ends holds taken by `holdForScan` (or any other `retain`).
    public mutating func release(_ names: Set<Watch>, remove: (Watch) -> Void) {
        for name in names {
            guard let count = holders[name] else { continue }
            if count == 1 {
                holders[name] = nil
                remove(name)
            } else {
                holders[name] = count - 1
            }
        }
    }

    private mutating func retain(
        _ names: Set<Watch>, insert: (Watch) throws -> Void, remove: (Watch) -> Void
    ) throws {
        let entering = names.filter { holders[$0] == nil }
        guard holders.count + entering.count <= capacity else {
            throw WatchError.capacityExhausted(capacity: capacity)
        }
        var inserted: [Watch] = []
        do {
            for name in entering {
                try insert(name)
                inserted.append(name)
            }
        } catch {
            inserted.forEach(remove)
            throw error
        }
        for name in names { holders[name, default: 0] += 1 }
    }
}
