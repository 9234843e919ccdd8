import DmabufScanner

/// A snapshot for `Status`.
public struct MonitorStatus: Sendable {
    public var clients: Int
    /// The caller's uid's own names and prefixes, or everyone's (the union).
    public var watched: Int
    public var capacity: Int
    public var passes: Int
    /// Entries the kernel maps hold; nil when the caller may not see totals.
    public var mapEntries: Int?
    /// The latest pass's exporters; nil before the first pass.
    public var exporters: [ExporterTotals]?
}
