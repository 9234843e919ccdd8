import DmabufScanner
import VarlinkServer

/// Who watches what: each connection's own set of names and prefixes, what each uid is
/// charged for, and the reference-counted union that the kernel maps must hold. An entry
/// stays in the union while any connection watches it or any in-flight `Scan` asked for it.
///
/// Admission counts each uid's own entries, never the union: an entry another user
/// watches already costs the caller the same as a new one, so whether a change fits says
/// nothing about what others watch. The union never outgrows the capacity, being no
/// larger than the sum of the charges. Uids outside the reserve share what the reserve
/// leaves; uids in it may use the whole capacity.
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
        /// (hand them to `release`, with `uid`, after it).
        public let held: Set<Watch>
        /// Whom `held` is charged to.
        public let uid: UInt32
        fileprivate let connection: ConnectionID
        fileprivate let joinsWatchSet: Bool
    }

    public let capacity: Int
    public let reserve: ReservedShare
    private var holders: [Watch: Int] = [:]
    /// Per uid: each entry it is charged for, and how many of its holds (its connections'
    /// sets, its Scans in flight) hold it.
    private var charges: [UInt32: [Watch: Int]] = [:]
    /// Entries charged, summed over every uid, and over the uids outside the reserve.
    private var charged = 0
    private var chargedOutsideReserve = 0
    private var sets: [ConnectionID: Set<Watch>] = [:]
    private var owners: [ConnectionID: UInt32] = [:]
    /// Each set sorted, kept as the sets change: replies list watches in order, and there
    /// are many more replies than watch changes.
    private var sortedSets: [ConnectionID: [Watch]] = [:]

    public init(capacity: Int, reserve: ReservedShare = ReservedShare(names: 0, uids: [])) {
        self.capacity = capacity
        self.reserve = reserve
    }

    /// The entries the kernel maps must hold now: every watched or held name and prefix.
    public var union: Dictionary<Watch, Int>.Keys { holders.keys }

    public var unionCount: Int { holders.count }

    /// The distinct names and prefixes `uid` holds across its connections and Scans.
    public func charge(of uid: UInt32) -> Int {
        charges[uid]?.count ?? 0
    }

    public func watchSet(of connection: ConnectionID) -> Set<Watch> {
        sets[connection] ?? []
    }

    /// `watchSet(of:)` in order.
    public func sortedWatchSet(of connection: ConnectionID) -> [Watch] {
        sortedSets[connection] ?? []
    }

    /// Plans adding `watches` to the connection's set, within its uid's quota and the capacity.
    public func planWatch(_ watches: [Watch], by connection: ConnectionID, account: WatchAccount)
        throws(WatchError) -> Plan
    {
        let added = Set(watches).subtracting(watchSet(of: connection))
        return try plan(holding: added, for: connection, account: account, joinsWatchSet: true)
    }

    /// Plans holding `watches` in the maps for one pass on behalf of a `Scan` that asked
    /// for them without watching them; they count against the quota while held.
    public func planScanHold(_ watches: [Watch], by connection: ConnectionID, account: WatchAccount)
        throws(WatchError) -> Plan
    {
        let extra = Set(watches).subtracting(watchSet(of: connection))
        return try plan(holding: extra, for: connection, account: account, joinsWatchSet: false)
    }

    private func plan(holding watches: Set<Watch>, for connection: ConnectionID, account: WatchAccount,
                      joinsWatchSet: Bool) throws(WatchError) -> Plan
    {
        let own = charges[account.uid] ?? [:]
        let cost = watches.count { own[$0] == nil }
        guard own.count + cost <= account.quota else { throw .tooManyNames(limit: account.quota) }
        guard charged + cost <= capacity else { throw .capacityExhausted(capacity: capacity) }
        if !reserve.uids.contains(account.uid) {
            let share = max(0, capacity - reserve.names)
            guard chargedOutsideReserve + cost <= share else { throw .capacityExhausted(capacity: share) }
        }
        let entering = watches.filter { holders[$0] == nil }.sorted()
        return Plan(
            entering: entering, held: watches, uid: account.uid, connection: connection, joinsWatchSet: joinsWatchSet)
    }

    /// Records a plan whose entering entries the maps now hold. Plans are committed in the
    /// order they were made, with no other change between.
    public mutating func commit(_ plan: Plan) {
        for watch in plan.held {
            holders[watch, default: 0] += 1
            charge(watch, to: plan.uid)
        }
        if plan.joinsWatchSet {
            owners[plan.connection] = plan.uid
            store(watchSet(of: plan.connection).union(plan.held), for: plan.connection)
        }
    }

    /// Removes `watches` from the connection's set (those it does not watch are ignored).
    /// Returns the set afterwards, and the entries that left the union.
    public mutating func unwatch(_ watches: [Watch], by connection: ConnectionID)
        -> (set: Set<Watch>, leaving: [Watch])
    {
        let current = watchSet(of: connection)
        guard let uid = owners[connection] else { return (current, []) }
        let removed = current.intersection(watches)
        let leaving = release(removed, chargedTo: uid)
        let updated = current.subtracting(removed)
        store(updated, for: connection)
        return (updated, leaving)
    }

    /// Forgets a closed connection; returns the entries that left the union with it.
    public mutating func drop(_ connection: ConnectionID) -> [Watch] {
        sortedSets[connection] = nil
        let uid = owners.removeValue(forKey: connection)
        guard let set = sets.removeValue(forKey: connection), let uid else { return [] }
        return release(set, chargedTo: uid)
    }

    /// Ends holds (a scan's, or a connection's entries) charged to `uid`; returns the
    /// entries no one holds any more, which have left the union.
    public mutating func release(_ watches: Set<Watch>, chargedTo uid: UInt32) -> [Watch] {
        var leaving: [Watch] = []
        for watch in watches {
            guard let count = holders[watch] else { continue }
            uncharge(watch, from: uid)
            if count == 1 {
                holders[watch] = nil
                leaving.append(watch)
            } else {
                holders[watch] = count - 1
            }
        }
        return leaving
    }

    private mutating func charge(_ watch: Watch, to uid: UInt32) {
        let holds = charges[uid, default: [:]][watch, default: 0]
        charges[uid, default: [:]][watch] = holds + 1
        if holds == 0 { count(uid, by: 1) }
    }

    private mutating func uncharge(_ watch: Watch, from uid: UInt32) {
        guard let holds = charges[uid]?[watch] else { return }
        if holds > 1 {
            charges[uid]?[watch] = holds - 1
            return
        }
        charges[uid]?[watch] = nil
        if charges[uid]?.isEmpty == true { charges[uid] = nil }
        count(uid, by: -1)
    }

    private mutating func count(_ uid: UInt32, by change: Int) {
        charged += change
        if !reserve.uids.contains(uid) { chargedOutsideReserve += change }
    }

    private mutating func store(_ set: Set<Watch>, for connection: ConnectionID) {
        sets[connection] = set.isEmpty ? nil : set
        sortedSets[connection] = set.isEmpty ? nil : set.sorted()
    }
}
