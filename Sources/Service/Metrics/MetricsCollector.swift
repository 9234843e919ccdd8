/// Gathers a scrape's metrics, for `GET /metrics` and the Metrics method alike: the
/// monitor's (reusing a pass younger than `minInterval`), the counters, the build.
public struct MetricsCollector: Sendable {
    public static let defaultMinInterval = Duration.seconds(1)

    private let monitor: BufferMonitor
    private let counters: ServiceCounters
    private let minInterval: Duration
    private let version: String
    private let kernel: String

    public init(monitor: BufferMonitor, counters: ServiceCounters, minInterval: Duration, version: String, kernel: String) {
        self.monitor = monitor
        self.counters = counters
        self.minInterval = minInterval
        self.version = version
        self.kernel = kernel
    }

    public func report() async throws(MonitorError) -> MetricsReport {
        let metrics = try await monitor.metrics(maxAge: minInterval)
        return MetricsReport(monitor: metrics, counters: counters.snapshot, version: version, kernel: kernel)
    }
}
