import DmabufScanner
import VarlinkServer

/// Who watches what: each connection's own set of names and prefixes, and the
/// reference-counted union that the kernel maps must hold. An entry stays in the union
/// while any connection watches it or any in-flight `Scan` asked for it.
///
/// The registry writes no map itself. A change that adds entries is planned first
/// (`planWatch`, `planScanHold`): the plan says which entries the maps must gain, the
/// caller writes them, and only then is the plan committed, so a refused map write leaves
/// the registry as it was. A change that removes entries returns those that left the
/// union, for the caller to delete from the maps.
public struct WatchRegistry: Sendable {
    /// A change the registry agreed to and has not recorded yet.
    public struct Plan: Sendable {
        /// Entries new to the union, which the maps must take before `commit`.
        public let entering: [Watch]
        /// Entries the change holds: added to the connection's set, or held for one pass
        /// (hand them to `release` after it).
        public let held: Set<Watch>
        fileprivate let connection: ConnectionID
        fileprivate let joinsWatchSet: Bool
    }

    public let capacity: Int
    private var holders: [Watch: Int] = [:]
    private var sets: [ConnectionID: Set<Watch>] = [:]
    /// Each set sorted, kept as the sets change: replies list watches in order, and there
    /// are many more replies than watch changes.
    private var sortedSets: [ConnectionID: [Watch]] = [:]

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// The entries the kernel maps must hold now: every watched or held name and prefix.
    public var union: Dictionary<Watch, Int>.Keys { holders.keys }

    public var unionCount: Int { holders.count }

    public func watchSet(of connection: ConnectionID) -> Set<Watch> {
        sets[connection] ?? []
    }

    /// `watchSet(of:)` in order.
    public func sortedWatchSet(of connection: ConnectionID) -> [Watch] {
        sortedSets[connection] ?? []
    }

    /// Plans adding `watches` to the connection's set, within its quota and the capacity.
    public func planWatch(_ watches: [Watch], by connection: ConnectionID, quota: Int) throws(WatchError) -> Plan {
        let current = watchSet(of: connection)
        let added = Set(watches).subtracting(current)
        guard current.count + added.count <= quota else { throw .tooManyNames(limit: quota) }
        return try plan(holding: added, for: connection, joinsWatchSet: true)
    }

    /// Plans holding `watches` in the maps for one pass on behalf of a `Scan` that asked
    /// for them without watching them; the quota counts them together with the
    /// connection's set.
    public func planScanHold(_ watches: [Watch], by connection: ConnectionID, quota: Int) throws(WatchError) -> Plan {
        let current = watchSet(of: connection)
        let extra = Set(watches).subtracting(current)
        guard current.count + extra.count <= quota else { throw .tooManyNames(limit: quota) }
        return try plan(holding: extra, for: connection, joinsWatchSet: false)
    }

    private func plan(holding watches: Set<Watch>, for connection: ConnectionID, joinsWatchSet: Bool)
        throws(WatchError) -> Plan
    {
        let entering = watches.filter { holders[$0] == nil }.sorted()
        guard holders.count + entering.count <= capacity else { throw .capacityExhausted(capacity: capacity) }
        return Plan(entering: entering, held: watches, connection: connection, joinsWatchSet: joinsWatchSet)
    }

    /// Records a plan whose entering entries the maps now hold. Plans are committed in the
    /// order they were made, with no other change between.
    public mutating func commit(_ plan: Plan) {
        for watch in plan.held { holders[watch, default: 0] += 1 }
        if plan.joinsWatchSet { store(watchSet(of: plan.connection).union(plan.held), for: plan.connection) }
    }

    /// Removes `watches` from the connection's set (those it does not watch are ignored).
    /// Returns the set afterwards, and the entries that left the union.
    public mutating func unwatch(_ watches: [Watch], by connection: ConnectionID)
        -> (set: Set<Watch>, leaving: [Watch])
    {
        let current = watchSet(of: connection)
        let removed = current.intersection(watches)
        let leaving = release(removed)
        let updated = current.subtracting(removed)
        store(updated, for: connection)
        return (updated, leaving)
    }

    /// Forgets a closed connection; returns the entries that left the union with it.
    public mutating func drop(_ connection: ConnectionID) -> [Watch] {
        guard let set = sets.removeValue(forKey: connection) else { return [] }
        sortedSets[connection] = nil
        return release(set)
    }

    /// Ends holds (a scan's, or a connection's entries); returns the entries no one holds
    /// any more, which have left the union.
    public mutating func release(_ watches: Set<Watch>) -> [Watch] {
        var leaving: [Watch] = []
        for watch in watches {
            guard let count = holders[watch] else { continue }
            if count == 1 {
                holders[watch] = nil
                leaving.append(watch)
            } else {
                holders[watch] = count - 1
            }
        }
        return leaving
    }

    private mutating func store(_ set: Set<Watch>, for connection: ConnectionID) {
        sets[connection] = set.isEmpty ? nil : set
        sortedSets[connection] = set.isEmpty ? nil : set.sorted()
    }
}
