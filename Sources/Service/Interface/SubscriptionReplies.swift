import DmabufProtocol
import DmabufScanner
import VarlinkServer

/// The replies of one `Subscribe`: the first holds every watched name and prefix, each
/// later one only those that changed since the reply before it (a vanished one with
/// `present: false`; one watched since then, whatever its state; one unwatched, never).
///
/// A reply is built when the server asks for it, from the newest update: a reader that
/// fell behind gets the state as it is now, compared with what it was last told, and
/// nothing of the passes in between. Passes that change nothing it watches send nothing.
struct SubscriptionReplies: AsyncSequence, Sendable {
    typealias Element = Reply
    typealias Failure = Never

    let updates: AsyncStream<SubscriptionUpdate>
    let details: Bool

    func makeAsyncIterator() -> Iterator {
        Iterator(updates: updates.makeAsyncIterator(), details: details)
    }

    struct Iterator: AsyncIteratorProtocol {
        typealias Element = Reply
        typealias Failure = Never

        var updates: AsyncStream<SubscriptionUpdate>.Iterator
        let details: Bool
        /// What the subscriber was told last, by watch; nil before the first reply.
        var told: [Watch: Match]?
        var ended = false

        init(updates: AsyncStream<SubscriptionUpdate>.Iterator, details: Bool) {
            self.updates = updates
            self.details = details
        }

        mutating func next() async -> Reply? {
            while !ended, let update = await updates.next() {
                switch update {
                case .failure(let error):
                    ended = true
                    return Reply(error: VarlinkError(error))
                case .success(let outcome):
                    let current = Array(zip(outcome.watches.map(\.watch), outcome.matches(details: details)))
                    let changes = told.map { told in current.filter { told[$0.0] != $0.1 } } ?? current
                    let first = told == nil
                    // Forgets unwatched names even when nothing else changed: watched
                    // again, they count as news.
                    told = Dictionary(uniqueKeysWithValues: current)
                    if first || !changes.isEmpty {
                        let reply = ScanReply(matches: changes.map(\.1), scan: ScanInfo(outcome.totals))
                        return Reply(writing: reply, continues: true)
                    }
                }
            }
            return nil
        }
    }
}
