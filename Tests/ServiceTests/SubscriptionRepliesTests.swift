import DmabufProtocol
import DmabufScanner
import Testing

@testable import DmabufService

/// The diffing of a subscription's replies, fed by hand-made updates.
@Suite struct SubscriptionRepliesTests {
    let a = Watch.name(try! WatchName(validating: "a"))
    let b = Watch.name(try! WatchName(validating: "b"))
    let c = Watch.prefix(try! WatchName(validating: "c"))

    private func update(_ id: UInt64, _ watches: [(Watch, UInt64)]) -> SubscriptionUpdate {
        let totals = PassTotals(id: id, startedUsec: 0, durationNsec: 1, buffers: 0, bytes: 0)
        return .success(
            PassOutcome(
                totals: totals,
                watches: watches.map { ($0.0, NameStats(count: $0.1, bytes: $0.1 * 4096)) }, buffers: []))
    }

    /// Feeds `updates` in order, then ends the stream; returns every reply as (pass id, matches).
    private func replies(_ updates: [SubscriptionUpdate]) async -> [Reply] {
        let (stream, continuation) = AsyncStream.makeStream(of: SubscriptionUpdate.self)
        for update in updates { continuation.yield(update) }
        continuation.finish()
        var replies: [Reply] = []
        for await reply in SubscriptionReplies(updates: stream, details: false) { replies.append(reply) }
        return replies
    }

    private func summary(_ reply: Reply) throws -> String {
        let scan = try ScanReply(parameters: reply.parameters)
        let matches = scan.matches.map { "\($0.name)\($0.prefix ? "*" : "")=\($0.count)" }
        return "\(scan.scan.id):" + matches.joined(separator: ",")
    }

    @Test func theFirstReplyHoldsEverythingEvenWhenEmpty() async throws {
        let empty = await replies([update(1, [])])
        #expect(try empty.map(summary) == ["1:"])
        let full = await replies([update(1, [(a, 0), (c, 2)])])
        #expect(try full.map(summary) == ["1:a=0,c*=2"])
        #expect(full.allSatisfy { $0.continues })
    }

    @Test func laterRepliesHoldOnlyChangesAndUnchangedPassesSendNothing() async throws {
        let replies = await replies([
            update(1, [(a, 0), (b, 1)]),
            update(2, [(a, 0), (b, 1)]),
            update(3, [(a, 1), (b, 1)]),
            update(4, [(a, 1), (b, 0)]),
        ])
        #expect(try replies.map(summary) == ["1:a=0,b=1", "3:a=1", "4:b=0"])
        let vanished = try ScanReply(parameters: replies[2].parameters).matches[0]
        #expect(vanished.present == false && vanished.bytes == 0)
    }

    @Test func aNewWatchIsNewsAndAnUnwatchedOneIsForgotten() async throws {
        let replies = await replies([
            update(1, [(a, 1)]),
            update(2, [(a, 1), (c, 0)]),  // c watched: news although absent
            update(3, [(c, 0)]),  // a unwatched: nothing to say
            update(4, [(a, 1), (c, 0)]),  // a watched again: news again
        ])
        #expect(try replies.map(summary) == ["1:a=1", "2:c*=0", "4:a=1"])
    }

    @Test func aFailedPassEndsTheStreamWithItsError() async throws {
        let replies = await replies([
            update(1, [(a, 1)]), .failure(.pass(.passFailed("EPERM"))), update(3, [(a, 2)]),
        ])
        #expect(replies.count == 2)
        #expect(replies[1].error == MonitorInterface.ErrorName.scanFailed)
        #expect(replies[1].continues == false)
    }
}

@Suite struct SubscriptionIntervalTests {
    @Test func intervalsAreKeptBetweenFloorAndCeiling() {
        #expect(SubscriptionInterval.clamped(milliseconds: nil) == .seconds(1))
        #expect(SubscriptionInterval.clamped(milliseconds: 0) == .milliseconds(100))
        #expect(SubscriptionInterval.clamped(milliseconds: 250) == .milliseconds(250))
        #expect(SubscriptionInterval.clamped(milliseconds: .max) == .seconds(86_400))
    }
}
