/// Gathers a scrape's metrics, for `GET /metrics` and the Metrics method alike: the
/// monitor's (reusing a pass younger than `minInterval`), the counters, the build.
public struct MetricsCollector: Sendable {
    public static let defaultMinInterval = Duration.seconds(1)

    private let monitor: BufferMonitor
    private let counters: ServiceCounters
    private let minInterval: Duration
    private let version: String
    private let kernel: String
    /// Names each cgroup for its per-cgroup series; nil leaves them out.
    private let cgroups: CgroupPaths?
    private let maxWatchedNames: Int

    /// - Parameter cgroups: where to name cgroups from, for the per-cgroup series (one per
    ///   cgroup that holds buffers: opt-in, as their number is the host's, not dmabufd's).
    init(
        monitor: BufferMonitor, counters: ServiceCounters, minInterval: Duration, version: String, kernel: String,
        cgroups: CgroupPaths? = nil, maxWatchedNames: Int = 1000
    ) {
        self.maxWatchedNames = maxWatchedNames
        self.monitor = monitor
        self.counters = counters
        self.minInterval = minInterval
        self.version = version
        self.kernel = kernel
        self.cgroups = cgroups
    }

    /// - Parameter watchedNames: whether the report has the per-name series, which tell
    ///   what clients watch.
    public func report(watchedNames: Bool) async throws(MonitorError) -> MetricsReport {
        let metrics = try await monitor.metrics(maxAge: minInterval)
        let cgroupBytes = cgroups.flatMap { paths in
            metrics.attribution.map { latest in
                latest.attribution.subtrees { paths.path(of: $0.cgroupID) }.map { ($0.key, $0.value.rss) }
                    .sorted { $0.0 < $1.0 }
            }
        }
        return MetricsReport(
            monitor: metrics, counters: counters.snapshot, version: version, kernel: kernel, cgroupBytes: cgroupBytes,
            watchedNames: watchedNames, maxWatchedNames: maxWatchedNames)
    }
}
