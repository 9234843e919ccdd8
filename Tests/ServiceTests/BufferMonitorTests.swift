import DmabufProtocol
import DmabufScanner
import NIOPosix
import Synchronization
import Testing

@testable import DmabufService
@testable import VarlinkServer

private func waitUntil(_ condition: () -> Bool) async {
    while !condition() { try? await Task.sleep(for: .milliseconds(1)) }
}

@Suite struct BufferMonitorTests {
    let thread = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Requests reach the actor's mailbox while pass 1 holds its thread; a pause lets
    /// them all arrive before the pass is let go. Too short a pause on a slow machine
    /// makes these tests fail, never pass wrongly.
    let arrival = Duration.milliseconds(300)

    @Test func scansThatArriveDuringAPassAllShareTheNext() async throws {
        let backend = GatedBackend()
        backend.release.store(0, ordering: .sequentiallyConsistent)
        let monitor = BufferMonitor(backend: backend, eventLoop: thread.next())
        let first = Task { try await monitor.scan([], by: ConnectionID(0), account: WatchAccount(uid: 0, quota: 10)).totals.id }
        await waitUntil { backend.entered.load(ordering: .sequentiallyConsistent) == 1 }
        let others = Task {
            try await withThrowingTaskGroup(of: UInt64.self) { group in
                for client in 1..<64 {
                    group.addTask { try await monitor.scan([], by: ConnectionID(UInt64(client)), account: WatchAccount(uid: 0, quota: 10)).totals.id }
                }
                return try await group.reduce(into: [UInt64]()) { $0.append($1) }
            }
        }
        try await Task.sleep(for: arrival)
        backend.release.store(.max, ordering: .sequentiallyConsistent)
        #expect(try await first.value == 1)
        #expect(try await others.value == Array(repeating: 2, count: 63), "64 scans, 2 passes")
        #expect(backend.passes.load(ordering: .sequentiallyConsistent) == 2)
    }

    @Test(.timeLimit(.minutes(1))) func aPassWaitsForCallsReadOffTheirSocketsAsLongAsTheLastPassTook() async throws {
        let backend = GatedBackend()
        let untaken = UntakenMessages()
        let monitor = BufferMonitor(backend: backend, untaken: untaken, eventLoop: thread.next())
        let account = WatchAccount(uid: 0, quota: 10)
        // Each pass says it took 10 minutes: the longest the next may wait for calls on their way.
        backend.reportedDurationNsec.store(600_000_000_000, ordering: .sequentiallyConsistent)
        #expect(try await monitor.scan([], by: ConnectionID(1), account: account).totals.id == 1)
        #expect(try await monitor.scan([], by: ConnectionID(1), account: account).totals.id == 2, "alone: no wait")

        // Another connection's call is read, not yet taken by its session.
        let reader = ConnectionBacklog(counting: untaken)
        reader.framed()
        let first = Task { try await monitor.scan([], by: ConnectionID(1), account: account).totals.id }
        try await Task.sleep(for: arrival)
        #expect(backend.entered.load(ordering: .sequentiallyConsistent) == 2, "pass 3 waits for the call read")
        reader.taken()
        monitor.callsOnTheirWay.announce()
        reader.handedOn()
        let second = try await monitor.scan([], by: ConnectionID(2), account: account).totals.id
        #expect(try await first.value == 3)
        #expect(second == 3, "both in the pass that waited")

        // A call read that never comes: the wait ends when the last pass's time is up.
        backend.reportedDurationNsec.store(50_000_000, ordering: .sequentiallyConsistent)
        #expect(try await monitor.scan([], by: ConnectionID(1), account: account).totals.id == 4)
        let stuck = ConnectionBacklog(counting: untaken)
        stuck.framed()
        #expect(try await monitor.scan([], by: ConnectionID(1), account: account).totals.id == 5)
        stuck.ended()
    }

    @Test func aScanNeverGetsAPassThatStartedBeforeIt() async throws {
        let backend = GatedBackend()
        backend.release.store(1, ordering: .sequentiallyConsistent)
        let monitor = BufferMonitor(backend: backend, eventLoop: thread.next())
        #expect(try await monitor.scan([], by: ConnectionID(1), account: WatchAccount(uid: 0, quota: 10)).totals.id == 1)
        // Pass 2 starts and holds; a request that arrives now must wait for pass 3.
        let early = Task { try await monitor.scan([], by: ConnectionID(1), account: WatchAccount(uid: 0, quota: 10)).totals.id }
        await waitUntil { backend.entered.load(ordering: .sequentiallyConsistent) == 2 }
        let late = Task { try await monitor.scan([], by: ConnectionID(2), account: WatchAccount(uid: 0, quota: 10)).totals.id }
        try await Task.sleep(for: arrival)
        backend.release.store(.max, ordering: .sequentiallyConsistent)
        #expect(try await early.value == 2)
        #expect(try await late.value == 3)
    }

    @Test func scanReportsTheWatchSetPlusItsOwnNamesThenReleasesThem() async throws {
        let backend = GatedBackend()
        let monitor = BufferMonitor(backend: backend, eventLoop: thread.next())
        let me = ConnectionID(1)
        _ = try await monitor.watch([.name(try WatchName(validating: "b"))], by: me, account: WatchAccount(uid: 0, quota: 10))
        let outcome = try await monitor.scan(
            [.name(try WatchName(validating: "a")), .prefix(try WatchName(validating: "b"))], by: me, account: WatchAccount(uid: 0, quota: 10))
        #expect(outcome.watches.map(\.watch.text) == ["a", "b", "b"])
        #expect(outcome.watches.map(\.watch.kind) == [.name, .name, .prefix])
        #expect(outcome.watches.map(\.stats.count) == [1, 1, 1], "the extra entries were in the map during the pass")
        #expect(backend.watchedCount == 1)
        await monitor.disconnect(me)
        #expect(backend.watchedCount == 0)
    }
}

@Suite struct BufferMonitorSubscriptionTests {
    let thread = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let me = ConnectionID(1)

    private func passID(_ update: SubscriptionUpdate?) throws -> UInt64 {
        try #require(try update?.get()).totals.id
    }

    @Test func theFirstUpdateComesAtOnceAndAScanFeedsSubscribers() async throws {
        let backend = GatedBackend()
        let monitor = BufferMonitor(backend: backend, eventLoop: thread.next())
        _ = try await monitor.watch([.name(try WatchName(validating: "a"))], by: me, account: WatchAccount(uid: 0, quota: 10))
        var updates = try await monitor.subscribe(me, every: .seconds(3600), details: false).makeAsyncIterator()
        let first = try #require(try await updates.next()?.get())
        #expect(first.totals.id == 1)
        #expect(first.watches.map(\.watch.text) == ["a"])
        _ = try await monitor.watch([.name(try WatchName(validating: "b"))], by: me, account: WatchAccount(uid: 0, quota: 10))
        let scanned = try await monitor.scan([], by: ConnectionID(2), account: WatchAccount(uid: 0, quota: 10))
        let fed = try #require(try await updates.next()?.get())
        #expect(fed.totals.id == scanned.totals.id)
        #expect(fed.watches.map(\.watch.text) == ["a", "b"])
    }

    @Test func aPassThatChangesNothingForAnySubscriberIsNotPublished() async throws {
        let backend = GatedBackend()
        let monitor = BufferMonitor(backend: backend, eventLoop: thread.next())
        var updates = try await monitor.subscribe(me, every: .seconds(3600), details: false).makeAsyncIterator()
        #expect(try passID(await updates.next()) == 1)
        _ = try await monitor.scan([], by: ConnectionID(2), account: WatchAccount(uid: 0, quota: 10))  // pass 2: the same state
        _ = try await monitor.watch([.name(try WatchName(validating: "c"))], by: me, account: WatchAccount(uid: 0, quota: 10))
        _ = try await monitor.scan([], by: ConnectionID(2), account: WatchAccount(uid: 0, quota: 10))  // pass 3: a new watch
        #expect(try passID(await updates.next()) == 3, "pass 2 was not handed over")
    }

    @Test func passesRunPeriodicallyOnlyWhileSomeoneSubscribes() async throws {
        let backend = GatedBackend()
        let monitor = BufferMonitor(backend: backend, eventLoop: thread.next())
        var updates = try await monitor.subscribe(me, every: .milliseconds(100), details: false).makeAsyncIterator()
        await waitUntil { backend.passes.load(ordering: .sequentiallyConsistent) >= 4 }
        #expect(try passID(await updates.next()) == 1, "later passes changed nothing")
        await monitor.disconnect(me)
        #expect(await updates.next() == nil, "the connection's end ends its stream")
        let stopped = backend.passes.load(ordering: .sequentiallyConsistent)
        try await Task.sleep(for: .milliseconds(400))
        #expect(backend.passes.load(ordering: .sequentiallyConsistent) <= stopped + 1, "at most one pass already under way")
    }

    @Test func aConnectionHasOneSubscriptionAtATime() async throws {
        let monitor = BufferMonitor(backend: GatedBackend(), eventLoop: thread.next())
        let first = try await monitor.subscribe(me, every: .seconds(1), details: false)
        await #expect(throws: MonitorError.self) { _ = try await monitor.subscribe(me, every: .seconds(1), details: false) }
        // Dropping the stream ends the subscription; then the connection may subscribe again.
        _ = consume first
        var again: AsyncStream<SubscriptionUpdate>?
        for _ in 0..<100 where again == nil {
            again = try? await monitor.subscribe(me, every: .seconds(1), details: false)
            if again == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(again != nil)
    }
}
