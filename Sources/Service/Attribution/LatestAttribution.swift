import DmabufScanner

/// Who held what after one pass that listed every buffer and walked the holders: what a
/// metrics scrape reports of attribution.
public struct LatestAttribution: Sendable {
    /// When its pass started, microseconds since the epoch.
    public let startedUsec: Int64
    let attribution: Attribution
    /// Buffers no process held.
    let kernelHeld: (count: Int, bytes: UInt64)

    init(_ report: PassReport, holders: [HolderRecord]) {
        startedUsec = report.totals.startedUsec
        attribution = Attribution(holders: holders)
        kernelHeld = attribution.kernelHeld(among: report.buffers)
    }
}
