import DmabufScanner

/// What the passes so far add up to: how many ran, how many the kernel refused, how long
/// they took, and the newest one. The monitor, which runs every pass, owns it.
public struct PassStatistics: Sendable {
    /// The newest pass that succeeded, and when it started on the monotonic clock (its
    /// age decides whether a metrics scrape may reuse it).
    public struct LatestPass: Sendable {
        public var totals: PassTotals
        public var started: ContinuousClock.Instant
    }

    /// Bounds of the pass-duration buckets, in seconds: a pass over a few buffers takes
    /// tens of microseconds, one over tens of thousands some milliseconds.
    public static let durationBounds = [
        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    ]

    public private(set) var passes = 0
    public private(set) var failures = 0
    /// Seconds each successful pass ran in the kernel.
    public private(set) var durations = Histogram(bounds: durationBounds)
    public private(set) var latest: LatestPass?

    public init() {}

    public mutating func record(_ result: Result<PassReport, ScannerError>, started: ContinuousClock.Instant) {
        switch result {
        case .success(let report):
            passes += 1
            durations.observe(Double(report.totals.durationNsec) / 1e9)
            latest = LatestPass(totals: report.totals, started: started)
        case .failure:
            failures += 1
        }
    }

    /// Whether the newest pass started less than `maxAge` before `now`.
    public func isFresh(within maxAge: Duration, at now: ContinuousClock.Instant) -> Bool {
        guard let latest else { return false }
        return now - latest.started < maxAge
    }
}
