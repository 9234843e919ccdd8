import DmabufProtocol
import DmabufScanner

/// The replies of a `List` called with `more`: the pass's buffers in slices, each reply
/// with the pass's `scan`, every one but the last with `continues`. At N = 250,000 a whole
/// listing is some 45 MB of JSON: in slices, neither side ever holds one message that
/// large, and each slice is encoded only once the client has read the one before.
struct ListReplies: AsyncSequence, Sendable {
    typealias Element = Reply
    typealias Failure = Never

    /// Buffers per reply: about 1 MB of JSON at most (names of 31 escaped bytes).
    static let sliceSize = 4_096

    let records: [BufferRecord]
    let scan: ScanInfo

    func makeAsyncIterator() -> Iterator {
        Iterator(records: records, scan: scan)
    }

    struct Iterator: AsyncIteratorProtocol {
        typealias Element = Reply
        typealias Failure = Never

        let records: [BufferRecord]
        let scan: ScanInfo
        var start = 0
        var ended = false

        mutating func next() async -> Reply? {
            guard !ended else { return nil }
            let end = Swift.min(start + ListReplies.sliceSize, records.count)
            let slice = records[start..<end].map(Buffer.init(record:))
            start = end
            ended = end == records.count
            return Reply(writing: ListReply(buffers: slice, scan: scan), continues: !ended)
        }
    }
}
