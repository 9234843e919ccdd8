import DmabufScanner

/// What the monitor tells a metrics scrape: the passes so far (the latest one among them),
/// and every watched name as the latest saw it.
public struct MonitorMetrics: Sendable {
    public var statistics: PassStatistics
    /// Every name and prefix in the kernel map, sorted, with its stats.
    public var watches: [(watch: Watch, stats: NameStats)]
    /// Who held what after the latest pass that walked the holders; nil before one, or
    /// where the kernel cannot tell.
    public var attribution: LatestAttribution?
    public var capacity: Int
    public var clients: Int
    public var subscribers: Int
}
