import DmabufProtocol
import DmabufScanner
import Testing
import VarlinkServer

@testable import DmabufService

private func names(_ strings: String...) -> [Watch] {
    strings.map { .name(try! WatchName(validating: $0)) }
}

private func prefixes(_ strings: String...) -> [Watch] {
    strings.map { .prefix(try! WatchName(validating: $0)) }
}

/// A registry and the kernel map it describes, kept as the monitor keeps them: a plan's
/// entering entries go into the map before the plan is committed, and what leaves the
/// union leaves the map.
private struct Maps {
    var registry: WatchRegistry
    var map: Set<Watch> = []
    /// Each connection's uid: connection n is uid 1000 + n unless `uids` says otherwise.
    let uids: [ConnectionID: UInt32]

    init(capacity: Int, reserve: ReservedShare = ReservedShare(names: 0, uids: []),
         uids: [ConnectionID: UInt32] = [:]) {
        registry = WatchRegistry(capacity: capacity, reserve: reserve)
        self.uids = uids
    }

    func account(_ connection: ConnectionID, quota: Int) -> WatchAccount {
        WatchAccount(uid: uids[connection] ?? 1000 + UInt32(connection.rawValue), quota: quota)
    }

    mutating func watch(_ watches: [Watch], by connection: ConnectionID, quota: Int) throws(WatchError) -> Set<Watch> {
        let plan = try registry.planWatch(watches, by: connection, account: account(connection, quota: quota))
        enter(plan)
        return registry.watchSet(of: connection)
    }

    mutating func hold(_ watches: [Watch], by connection: ConnectionID, quota: Int) throws(WatchError)
        -> WatchRegistry.Plan
    {
        let plan = try registry.planScanHold(watches, by: connection, account: account(connection, quota: quota))
        enter(plan)
        return plan
    }

    mutating func enter(_ plan: WatchRegistry.Plan) {
        for watch in plan.entering {
            #expect(!map.contains(watch), "a name enters the map once")
            map.insert(watch)
        }
        registry.commit(plan)
    }

    mutating func leave(_ leaving: [Watch]) {
        for watch in leaving {
            #expect(map.contains(watch), "only mapped names leave the map")
            map.remove(watch)
        }
    }

    mutating func unwatch(_ watches: [Watch], by connection: ConnectionID) -> Set<Watch> {
        let (set, leaving) = registry.unwatch(watches, by: connection)
        leave(leaving)
        return set
    }

    mutating func drop(_ connection: ConnectionID) { leave(registry.drop(connection)) }
    mutating func release(_ hold: WatchRegistry.Plan) { leave(registry.release(hold.held, chargedTo: hold.uid)) }
}

@Suite struct WatchRegistryTests {
    let a = ConnectionID(1)
    let b = ConnectionID(2)

    @Test func unionIsReferenceCountedAcrossConnections() throws {
        var maps = Maps(capacity: 10)
        _ = try maps.watch(names("x", "y"), by: a, quota: 10)
        _ = try maps.watch(names("y", "z"), by: b, quota: 10)
        #expect(maps.map == Set(names("x", "y", "z")))
        maps.drop(a)
        #expect(maps.map == Set(names("y", "z")))
        #expect(maps.registry.watchSet(of: a).isEmpty)
        maps.drop(b)
        #expect(maps.map.isEmpty)
        #expect(maps.registry.unionCount == 0)
    }

    @Test func watchingTwiceIsIdempotent() throws {
        var maps = Maps(capacity: 10)
        _ = try maps.watch(names("x"), by: a, quota: 10)
        let set = try maps.watch(names("x", "x"), by: a, quota: 10)
        #expect(set == Set(names("x")))
        _ = maps.unwatch(names("x"), by: a)
        #expect(maps.map.isEmpty, "one unwatch undoes any number of watches of the same name")
    }

    @Test func unwatchIgnoresNamesNotWatched() throws {
        var maps = Maps(capacity: 10)
        _ = try maps.watch(names("x"), by: a, quota: 10)
        _ = try maps.watch(names("y"), by: b, quota: 10)
        let set = maps.unwatch(names("y", "nope"), by: a)
        #expect(set == Set(names("x")))
        #expect(maps.map == Set(names("x", "y")), "b still watches y")
    }

    @Test func quotaRefusesTheWholeCall() throws {
        var maps = Maps(capacity: 10)
        _ = try maps.watch(names("x", "y"), by: a, quota: 3)
        #expect(throws: WatchError.tooManyNames(limit: 3)) { try maps.watch(names("z", "w"), by: a, quota: 3) }
        #expect(maps.registry.watchSet(of: a) == Set(names("x", "y")))
        #expect(maps.map == Set(names("x", "y")))
    }

    @Test func whatAnotherUserWatchesNeverChangesWhetherAChangeFits() throws {
        // b's answers are the same whether a watches the names b asks for or others.
        for watchedByA in [names("x", "y"), names("p", "q")] {
            var maps = Maps(capacity: 3)
            _ = try maps.watch(watchedByA, by: a, quota: 10)
            #expect(throws: WatchError.capacityExhausted(capacity: 3)) { try maps.watch(names("x", "y"), by: b, quota: 10) }
            #expect(try maps.watch(names("x"), by: b, quota: 10) == Set(names("x")))
            #expect(maps.registry.charge(of: 1002) == 1)
        }
    }

    @Test func theQuotaCountsAUidAcrossItsConnections() throws {
        let c = ConnectionID(3)
        var maps = Maps(capacity: 10, uids: [a: 1000, b: 1000, c: 1001])
        _ = try maps.watch(names("x", "y"), by: a, quota: 3)
        #expect(throws: WatchError.tooManyNames(limit: 3)) { try maps.watch(names("z", "w"), by: b, quota: 3) }
        // Its own names cost it nothing more on another connection.
        #expect(try maps.watch(names("x", "y", "z"), by: b, quota: 3) == Set(names("x", "y", "z")))
        #expect(maps.registry.charge(of: 1000) == 3)
        #expect(try maps.watch(names("w"), by: c, quota: 3) == Set(names("w")), "another uid has its own quota")
        maps.drop(a)
        #expect(maps.registry.charge(of: 1000) == 3, "b still holds x, y and z")
        maps.drop(b)
        #expect(maps.registry.charge(of: 1000) == 0)
        #expect(maps.map == Set(names("w")))
    }

    @Test func usersOutsideTheReserveCannotFillWhatItKeeps() throws {
        let root = ConnectionID(3)
        var maps = Maps(capacity: 4, reserve: ReservedShare(names: 2, uids: [0]), uids: [root: 0])
        _ = try maps.watch(names("a1"), by: a, quota: 10)
        #expect(throws: WatchError.capacityExhausted(capacity: 2)) { try maps.watch(names("b1", "b2"), by: b, quota: 10) }
        _ = try maps.watch(names("b1"), by: b, quota: 10)
        #expect(try maps.watch(names("r1", "r2"), by: root, quota: 10).count == 2, "root gets what is kept")
        #expect(throws: WatchError.capacityExhausted(capacity: 4)) { try maps.watch(names("r3"), by: root, quota: 10) }
        maps.drop(b)
        #expect(try maps.watch(names("r3"), by: root, quota: 10).count == 3, "and what others leave")
        #expect(throws: WatchError.capacityExhausted(capacity: 4)) { try maps.watch(names("b1"), by: b, quota: 10) }
    }

    @Test func aPlanChangesNothingUntilItIsCommitted() throws {
        var maps = Maps(capacity: 10)
        _ = try maps.watch(names("x"), by: a, quota: 10)
        let plan = try maps.registry.planWatch(names("x", "y", "z"), by: a, account: maps.account(a, quota: 10))
        #expect(plan.entering == names("y", "z"), "only entries new to the union enter the map, in order")
        // The map write failed, say: the plan is dropped, and the registry never saw it.
        #expect(maps.registry.watchSet(of: a) == Set(names("x")))
        #expect(maps.registry.unionCount == 1)
        #expect(try maps.registry.planWatch(names("y"), by: b, account: maps.account(b, quota: 10)).entering == names("y"))
    }

    @Test func scanHoldsLastOnePassAndCountAgainstQuota() throws {
        var maps = Maps(capacity: 10)
        _ = try maps.watch(names("x"), by: a, quota: 2)
        #expect(throws: WatchError.tooManyNames(limit: 2)) { try maps.hold(names("y", "z"), by: a, quota: 2) }
        let held = try maps.hold(names("x", "y"), by: a, quota: 2)
        #expect(held.held == Set(names("y")), "names already watched need no hold")
        #expect(maps.map == Set(names("x", "y")))
        #expect(maps.registry.watchSet(of: a) == Set(names("x")), "a hold is not a watch")
        maps.release(held)
        #expect(maps.map == Set(names("x")))
        #expect(maps.registry.watchSet(of: a) == Set(names("x")))
    }

    @Test func aNameAndAPrefixWithTheSameBytesAreTwoEntries() throws {
        var maps = Maps(capacity: 10)
        let set = try maps.watch(names("cam") + prefixes("cam"), by: a, quota: 2)
        #expect(set.count == 2)
        #expect(maps.registry.unionCount == 2)
        #expect(throws: WatchError.tooManyNames(limit: 2)) { try maps.watch(prefixes("gpu"), by: a, quota: 2) }
        _ = maps.unwatch(prefixes("cam"), by: a)
        #expect(maps.map == Set(names("cam")))
    }

    @Test func sortingPutsANameBeforeItsPrefixTwin() throws {
        let sorted = (prefixes("b", "a") + names("b", "a")).sorted()
        #expect(sorted == [names("a")[0], prefixes("a")[0], names("b")[0], prefixes("b")[0]])
    }
}
