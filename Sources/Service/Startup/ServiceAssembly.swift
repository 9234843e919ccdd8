import DmabufProtocol
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import VarlinkServer

/// Wires the prepared service together and runs it until SIGTERM or SIGINT: the monitor
/// on a thread of its own, the Monitor interface behind the Varlink server, and the
/// metrics endpoint when one was asked for.
public struct ServiceAssembly {
    let options: DaemonCommand

    public init(_ options: DaemonCommand) {
        self.options = options
    }

    /// Serves until SIGTERM or SIGINT; on failure prints one line and exits.
    public func serve(_ prepared: sending PreparedService) async {
        let logger = prepared.logger
        let passThread = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let policy = prepared.policy
        // Counted by the server as it reads calls, waited for by passes about to start.
        let untaken = UntakenMessages()
        let monitor = BufferMonitor(
            backend: prepared.program, reserve: policy.reserve, untaken: untaken, eventLoop: passThread.next())
        let counters = ServiceCounters()
        let cgroups = CgroupPaths(root: options.cgroupRoot)
        logger.info("cgroups are named from \(cgroups.root ?? "nowhere: no cgroup2 hierarchy is mounted")")
        let metrics = MetricsCollector(
            monitor: monitor, counters: counters, minInterval: .milliseconds(options.metricsMinIntervalMsec),
            version: ProductVersion.string, kernel: prepared.kernel, cgroups: options.metricsCgroups ? cgroups : nil,
            maxWatchedNames: options.metricsMaxWatchedNames)
        let dispatcher = VarlinkDispatcher(
            vendor: "dmabufd", product: "dmabufd", version: ProductVersion.string, url: "",
            interfaces: [
                MonitorInterfaceServer(
                    monitor: monitor, metrics: metrics, counters: counters, policy: policy,
                    maxNamesPerCall: options.maxNamesPerCall, kernelRelease: prepared.kernel, cgroups: cgroups,
                    logger: logger)
            ])
        let server = VarlinkServer(
            prepared.listener, dispatcher: dispatcher,
            limits: options.connectionLimits(maxConnections: prepared.maxConnections, reserve: policy.reserve),
            connectionsPerUID: { policy.grant(for: $0).maxConnections }, observer: counters,
            group: MultiThreadedEventLoopGroup.singleton, notifier: ServiceManagerNotifier(), untaken: untaken,
            logger: logger)
        let watchedNames = options.metricsWatchedNames
        let endpoint = prepared.metricsListener.map { listener in
            MetricsHTTPServer(
                listener, exposition: { try await metrics.report(watchedNames: watchedNames).exposition },
                group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        }
        let group = ServiceGroup(
            services: [server, MemoryTrimmer(period: .seconds(10))] + (endpoint.map { [$0] } ?? []),
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [], logger: logger)
        do {
            try await group.run()
        } catch {
            StartupError(.other, String(describing: error)).terminate()
        }
        try? await passThread.shutdownGracefully()
    }
}
