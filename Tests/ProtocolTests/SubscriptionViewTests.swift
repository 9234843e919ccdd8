import DmabufClient
import DmabufProtocol
import Testing

private func pass(_ id: Int, buffers: Int = 0) -> ScanInfo {
    ScanInfo(
        id: id, startedUsec: 1_764_000_000_000_000 + id, durationNsec: 1000, buffers: buffers, bytes: buffers * 4096)
}

private func reply(_ id: Int, _ matches: Match...) -> ScanReply {
    ScanReply(matches: matches, scan: pass(id))
}

@Suite("SubscriptionView: a Subscribe stream's first reply with every later change applied")
struct SubscriptionViewTests {
    @Test func emptyBeforeTheFirstReply() {
        let view = SubscriptionView()
        #expect(view.reply == nil)
        #expect(view.matches.isEmpty)
    }

    @Test func theFirstReplyIsTheWholeState() {
        var view = SubscriptionView()
        let first = reply(
            1, Match(name: "a", prefix: false, count: 0, bytes: 0), Match(name: "b", prefix: true, count: 0, bytes: 0))
        view.apply(first)
        #expect(view.reply == first)
    }

    @Test func aLaterReplyChangesOnlyWhatItNames() {
        var view = SubscriptionView()
        view.apply(reply(
            1, Match(name: "cam", prefix: false, count: 2, bytes: 8192),
            Match(name: "cam", prefix: true, count: 3, bytes: 12288),
            Match(name: "gpu", prefix: false, count: 0, bytes: 0)))
        // The name "cam" vanished and "gpu" appeared; the prefix "cam" did not change.
        view.apply(reply(
            2, Match(name: "cam", prefix: false, count: 0, bytes: 0),
            Match(name: "gpu", prefix: false, count: 1, bytes: 4096)))
        #expect(view.reply == reply(
            2, Match(name: "cam", prefix: false, present: false, count: 0, bytes: 0),
            Match(name: "cam", prefix: true, count: 3, bytes: 12288),
            Match(name: "gpu", prefix: false, count: 1, bytes: 4096)))
        // A reply that changes nothing still moves the pass on.
        view.apply(reply(3))
        #expect(view.scan == pass(3))
        #expect(view.matches.count == 3)
    }

    @Test func detailsAreReplacedWithTheirMatch() {
        var view = SubscriptionView()
        let buffer = Buffer(inode: 7, size: 4096, name: "x", exporter: "udmabuf")
        view.apply(reply(1, Match(name: "x", prefix: false, count: 1, bytes: 4096, buffers: [buffer])))
        view.apply(reply(2, Match(name: "x", prefix: false, count: 0, bytes: 0, buffers: [])))
        #expect(view.matches == [Match(name: "x", prefix: false, count: 0, bytes: 0, buffers: [])])
    }

    @Test func entriesAreKeptInTheServicesOrder() {
        var view = SubscriptionView()
        view.apply(reply(1, Match(name: "w1", prefix: false, count: 0, bytes: 0)))
        // Entries the first reply did not have (a watch added since) take their sorted place:
        // by name bytes, a name before the prefix with the same bytes.
        view.apply(reply(
            2, Match(name: "w", prefix: true, count: 0, bytes: 0), Match(name: "w", prefix: false, count: 0, bytes: 0),
            Match(name: "v-", prefix: true, count: 0, bytes: 0), Match(name: "é", prefix: false, count: 0, bytes: 0)))
        #expect(view.matches.map { "\($0.name)\($0.prefix ? "*" : "")" } == ["v-*", "w", "w*", "w1", "é"])
    }

    @Test func namesAreTheirBytesNotTheirUnicodeEquivalence() {
        var view = SubscriptionView()
        let composed = Match(name: "\u{E9}", prefix: false, count: 1, bytes: 1)
        let decomposed = Match(name: "e\u{301}", prefix: false, count: 2, bytes: 2)
        view.apply(reply(1, composed, decomposed))
        #expect(view.matches.count == 2)
        view.apply(reply(2, Match(name: "e\u{301}", prefix: false, count: 0, bytes: 0)))
        #expect(view.matches.map(\.count) == [0, 1])  // "e" (0x65) sorts before "é" (0xC3 0xA9)
    }
}
