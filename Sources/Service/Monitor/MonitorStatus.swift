import DmabufScanner

/// A snapshot for `Status`.
public struct MonitorStatus: Sendable {
    public var clients: Int
    public var watched: Int
    public var capacity: Int
    public var passes: Int
    public var mapEntries: Int
    /// The latest pass's exporters; nil before the first pass.
    public var exporters: [ExporterTotals]?
}
