import DmabufScanner

/// What one pass answered to one request.
public struct PassOutcome: Sendable {
    public var totals: PassTotals
    /// The requester's names and prefixes (its watch set plus what it asked for), sorted,
    /// with their stats.
    public var watches: [(watch: Watch, stats: NameStats)]
    /// The buffers whose records the request asked for (every buffer, or those that matched
    /// a watched name or prefix, possibly more); empty unless it asked.
    public var buffers: [BufferRecord]
    /// Who held buffers right after the pass; nil unless the request asked.
    public var holders: [HolderRecord]?
    /// The asking client's pid namespace, as the walk found it; nil when not asked or not met.
    public var askerNamespace: HolderWalk.Namespaced?
}

/// What one pass tells one subscriber: its watch set's state, or why the pass failed.
public typealias SubscriptionUpdate = Result<PassOutcome, MonitorError>
