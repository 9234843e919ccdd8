import DmabufProtocol

/// The whole state a `Subscribe` stream describes: its first reply, with each later
/// reply's changes applied.
///
/// The service sends every watched name's and prefix's state first, then only the
/// entries that changed (a vanished one comes back with `present: false` and stays
/// watched). An entry is identified by its name's bytes and whether it is a prefix,
/// the way the service tells watches apart, so "é" in one code point and "e" plus
/// an accent stay two entries.
public struct SubscriptionView: Sendable, Equatable {
    private struct Key: Hashable, Comparable, Sendable {
        let name: [UInt8]
        let prefix: Bool

        init(_ match: Match) {
            name = Array(match.name.utf8)
            prefix = match.prefix
        }

        /// The service's order: by name bytes, a name before the prefix of the same bytes.
        static func < (lhs: Key, rhs: Key) -> Bool {
            lhs.name == rhs.name ? !lhs.prefix && rhs.prefix : lhs.name.lexicographicallyPrecedes(rhs.name)
        }
    }

    private var entries: [Key: Match] = [:]

    /// The latest pass; nil before the first reply.
    public private(set) var scan: ScanInfo?

    public init() {}

    /// Every entry seen so far, in the order the service sorts them.
    public var matches: [Match] {
        entries.sorted { $0.key < $1.key }.map(\.value)
    }

    /// The merged state as one reply (what a `Scan` of the same watch set would say); nil
    /// before the first reply.
    public var reply: ScanReply? {
        scan.map { ScanReply(matches: matches, scan: $0) }
    }

    /// Applies one reply: each of its matches replaces the entry it identifies (or adds
    /// it), entries it does not mention stay as they were, and its pass becomes the latest.
    public mutating func apply(_ reply: ScanReply) {
        for match in reply.matches { entries[Key(match)] = match }
        scan = reply.scan
    }
}
