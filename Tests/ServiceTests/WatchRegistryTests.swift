import DmabufProtocol
import Testing
import VarlinkServer

@testable import DmabufService

/// A stand-in for the kernel map that can be told to fail, to prove atomicity.
private final class MapRecorder {
    var names: Set<Watch> = []
    var failOn: Watch?

    struct Refused: Error {}

    func insert(_ name: Watch) throws {
        if name == failOn { throw Refused() }
        #expect(!names.contains(name), "a name must enter the map once")
        names.insert(name)
    }

    func remove(_ name: Watch) {
        #expect(names.contains(name), "only mapped names leave the map")
        names.remove(name)
    }
}

private func names(_ strings: String...) -> [Watch] {
    strings.map { .name(try! WatchName(validating: $0)) }
}

private func prefixes(_ strings: String...) -> [Watch] {
    strings.map { .prefix(try! WatchName(validating: $0)) }
}

@Suite struct WatchRegistryTests {
    let a = ConnectionID(1)
    let b = ConnectionID(2)

    @Test func unionIsReferenceCountedAcrossConnections() throws {
        var registry = WatchRegistry(capacity: 10)
        let map = MapRecorder()
        _ = try registry.watch(names("x", "y"), by: a, quota: 10, insert: map.insert, remove: map.remove)
        _ = try registry.watch(names("y", "z"), by: b, quota: 10, insert: map.insert, remove: map.remove)
        #expect(map.names == Set(names("x", "y", "z")))
        registry.drop(a, remove: map.remove)
        #expect(map.names == Set(names("y", "z")))
        #expect(registry.watchSet(of: a).isEmpty)
        registry.drop(b, remove: map.remove)
        #expect(map.names.isEmpty)
        #expect(registry.mappedCount == 0)
    }

    @Test func watchingTwiceIsIdempotent() throws {
        var registry = WatchRegistry(capacity: 10)
        let map = MapRecorder()
        _ = try registry.watch(names("x"), by: a, quota: 10, insert: map.insert, remove: map.remove)
        let set = try registry.watch(names("x", "x"), by: a, quota: 10, insert: map.insert, remove: map.remove)
        #expect(set == Set(names("x")))
        _ = registry.unwatch(names("x"), by: a, remove: map.remove)
        #expect(map.names.isEmpty, "one unwatch undoes any number of watches of the same name")
    }

    @Test func unwatchIgnoresNamesNotWatched() throws {
        var registry = WatchRegistry(capacity: 10)
        let map = MapRecorder()
        _ = try registry.watch(names("x"), by: a, quota: 10, insert: map.insert, remove: map.remove)
        _ = try registry.watch(names("y"), by: b, quota: 10, insert: map.insert, remove: map.remove)
        let set = registry.unwatch(names("y", "nope"), by: a, remove: map.remove)
        #expect(set == Set(names("x")))
        #expect(map.names == Set(names("x", "y")), "b still watches y")
    }

    @Test func quotaRefusesTheWholeCall() throws {
        var registry = WatchRegistry(capacity: 10)
        let map = MapRecorder()
        _ = try registry.watch(names("x", "y"), by: a, quota: 3, insert: map.insert, remove: map.remove)
        #expect(throws: WatchError.tooManyNames(limit: 3)) {
            try registry.watch(names("z", "w"), by: a, quota: 3, insert: map.insert, remove: map.remove)
        }
        #expect(registry.watchSet(of: a) == Set(names("x", "y")))
        #expect(map.names == Set(names("x", "y")))
    }

    @Test func capacityCountsOnlyNamesNewToTheMap() throws {
        var registry = WatchRegistry(capacity: 2)
        let map = MapRecorder()
        _ = try registry.watch(names("x", "y"), by: a, quota: 10, insert: map.insert, remove: map.remove)
        #expect(throws: WatchError.capacityExhausted(capacity: 2)) {
            try registry.watch(names("x", "z"), by: b, quota: 10, insert: map.insert, remove: map.remove)
        }
        #expect(registry.watchSet(of: b).isEmpty)
        let set = try registry.watch(names("x", "y"), by: b, quota: 10, insert: map.insert, remove: map.remove)
        #expect(set == Set(names("x", "y")))
    }

    @Test func aFailedMapWriteRollsBackEveryInsert() throws {
        var registry = WatchRegistry(capacity: 10)
        let map = MapRecorder()
        map.failOn = .name(try WatchName(validating: "bad"))
        #expect(throws: MapRecorder.Refused.self) {
            try registry.watch(names("a1", "a2", "bad", "a3"), by: a, quota: 10, insert: map.insert, remove: map.remove)
        }
        #expect(map.names.isEmpty)
        #expect(registry.mappedCount == 0)
        #expect(registry.watchSet(of: a).isEmpty)
    }

    @Test func scanHoldsLastOnePassAndCountAgainstQuota() throws {
        var registry = WatchRegistry(capacity: 10)
        let map = MapRecorder()
        _ = try registry.watch(names("x"), by: a, quota: 2, insert: map.insert, remove: map.remove)
        #expect(throws: WatchError.tooManyNames(limit: 2)) {
            try registry.holdForScan(names("y", "z"), by: a, quota: 2, insert: map.insert, remove: map.remove)
        }
        let held = try registry.holdForScan(names("x", "y"), by: a, quota: 2, insert: map.insert, remove: map.remove)
        #expect(held == Set(names("y")), "names already watched need no hold")
        #expect(map.names == Set(names("x", "y")))
        registry.release(held, remove: map.remove)
        #expect(map.names == Set(names("x")))
        #expect(registry.watchSet(of: a) == Set(names("x")))
    }

    @Test func aNameAndAPrefixWithTheSameBytesAreTwoEntries() throws {
        var registry = WatchRegistry(capacity: 10)
        let map = MapRecorder()
        let set = try registry.watch(names("cam") + prefixes("cam"), by: a, quota: 2, insert: map.insert, remove: map.remove)
        #expect(set.count == 2)
        #expect(registry.mappedCount == 2)
        #expect(throws: WatchError.tooManyNames(limit: 2)) {
            try registry.watch(prefixes("gpu"), by: a, quota: 2, insert: map.insert, remove: map.remove)
        }
        _ = registry.unwatch(prefixes("cam"), by: a, remove: map.remove)
        #expect(map.names == Set(names("cam")))
    }

    @Test func sortingPutsANameBeforeItsPrefixTwin() throws {
        let sorted = (prefixes("b", "a") + names("b", "a")).sorted()
        #expect(sorted == [names("a")[0], prefixes("a")[0], names("b")[0], prefixes("b")[0]])
    }
}
