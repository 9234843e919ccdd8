import DmabufProtocol
import DmabufScanner

/// Everything one scrape reports, gathered at one moment, and its text.
///
/// Per watched name there are two series for every name and prefix in the kernel map, so
/// `--capacity` bounds them (2 × 16,384 by default).
public struct MetricsReport: Sendable {
    public var monitor: MonitorMetrics
    public var counters: ServiceCounters.Snapshot
    public var version: String
    public var kernel: String
    /// Each cgroup subtree's bytes (each buffer once), by path; nil when not asked for.
    public var cgroupBytes: [(path: String, bytes: UInt64)]?
    /// Whether to write the series that tell what clients watch (each name's, and how
    /// many names in all: counting the union would tell whether a name was watched).
    public var watchedNames: Bool
    /// The most names and prefixes that get series of their own (the first in order); a
    /// gauge counts the rest, so a scrape stays a size Prometheus takes.
    public var maxWatchedNames: Int

    /// The report in the Prometheus text exposition format, version 0.0.4.
    public var exposition: String {
        var out = ExpositionWriter()
        out.family("dmabufd_build_info", .gauge, help: "Always 1; the labels say dmabufd's version and the kernel's release.")
        out.sample("dmabufd_build_info", 1, labels: ["version": version, "kernel": kernel])
        writePasses(into: &out)
        writeLatestPass(into: &out)
        writeAttribution(into: &out)
        writeWatches(into: &out)
        writeService(into: &out)
        return out.text
    }

    /// The latest pass: the host's buffers, in total and by exporter, and when it ran
    /// (nothing before the first pass).
    private func writeLatestPass(into out: inout ExpositionWriter) {
        guard let totals = monitor.statistics.latest?.totals else { return }
        out.family("dmabufd_host_buffers", .gauge, help: "DMA-BUFs on the host, named or not, in the latest pass.")
        out.sample("dmabufd_host_buffers", Int(totals.buffers))
        out.family("dmabufd_host_bytes", .gauge, help: "Total size of the DMA-BUFs on the host in the latest pass, in bytes.")
        out.sample("dmabufd_host_bytes", Int(totals.bytes))
        let exporters = totals.exporters.map { (name: Buffer.kernelString($0.name), totals: $0) }
            .sorted { $0.name < $1.name }
        out.family("dmabufd_exporter_buffers", .gauge, help: "DMA-BUFs each exporter holds in the latest pass.")
        for exporter in exporters {
            out.sample("dmabufd_exporter_buffers", Int(exporter.totals.count), labels: ["exporter": exporter.name])
        }
        out.family("dmabufd_exporter_bytes", .gauge, help: "Total size of each exporter's DMA-BUFs in the latest pass, in bytes.")
        for exporter in exporters {
            out.sample("dmabufd_exporter_bytes", Int(exporter.totals.bytes), labels: ["exporter": exporter.name])
        }
        out.family(
            "dmabufd_last_scan_timestamp_seconds", .gauge,
            help: "When the latest pass started, in seconds since the epoch.")
        out.sample("dmabufd_last_scan_timestamp_seconds", Double(totals.startedUsec) / 1e6)
    }

    /// Who held what after the latest pass that walked the holders (nothing before one).
    private func writeAttribution(into out: inout ExpositionWriter) {
        guard let latest = monitor.attribution else { return }
        let held = latest.kernelHeld
        out.family(
            "dmabufd_kernel_held_buffers", .gauge,
            help: "DMA-BUFs no process holds by an fd or a mapping (held by the kernel alone), in the latest walk.")
        out.sample("dmabufd_kernel_held_buffers", held.count)
        out.family(
            "dmabufd_kernel_held_bytes", .gauge,
            help: "Total size of the DMA-BUFs held by the kernel alone in the latest walk, in bytes.")
        out.sample("dmabufd_kernel_held_bytes", Int(held.bytes))
        if let cgroupBytes {
            out.family(
                "dmabufd_cgroup_bytes", .gauge,
                help: "Total size of the DMA-BUFs the processes of each cgroup subtree hold, each buffer once, in the latest walk.")
            for (path, bytes) in cgroupBytes {
                out.sample("dmabufd_cgroup_bytes", Int(bytes), labels: ["cgroup": path])
            }
        }
        out.family(
            "dmabufd_last_attribution_timestamp_seconds", .gauge,
            help: "When the pass of the latest walk of the holders started, in seconds since the epoch.")
        out.sample("dmabufd_last_attribution_timestamp_seconds", Double(latest.startedUsec) / 1e6)
    }

    /// How many passes ran, failed, and how long they took.
    private func writePasses(into out: inout ExpositionWriter) {
        out.family("dmabufd_scans_total", .counter, help: "Passes over the kernel's DMA-BUF list since dmabufd started.")
        out.sample("dmabufd_scans_total", monitor.statistics.passes)
        out.family("dmabufd_scan_failures_total", .counter, help: "Passes the kernel refused to run.")
        out.sample("dmabufd_scan_failures_total", monitor.statistics.failures)
        out.histogram(
            "dmabufd_scan_duration_seconds", help: "How long each pass ran in the kernel, in seconds.",
            monitor.statistics.durations)
    }

    /// Every watched name and prefix, as the latest pass saw it, when asked for; the capacity.
    private func writeWatches(into out: inout ExpositionWriter) {
        defer {
            out.family("dmabufd_watch_capacity", .gauge, help: "Names and prefixes the kernel map can hold (--capacity).")
            out.sample("dmabufd_watch_capacity", monitor.capacity)
        }
        guard watchedNames else { return }
        out.family(
            "dmabufd_watched_buffers", .gauge,
            help: "DMA-BUFs that carry a watched name (kind=\"name\") or start with a watched prefix (kind=\"prefix\"), in the latest pass.")
        let watches = monitor.watches.prefix(maxWatchedNames)
        for (watch, stats) in watches {
            out.sample("dmabufd_watched_buffers", Int(stats.count), labels: Self.labels(watch))
        }
        out.family(
            "dmabufd_watched_bytes", .gauge,
            help: "Total size of the DMA-BUFs of each watched name or prefix in the latest pass, in bytes.")
        for (watch, stats) in watches {
            out.sample("dmabufd_watched_bytes", Int(stats.bytes), labels: Self.labels(watch))
        }
        out.family(
            "dmabufd_watched_names_without_series", .gauge,
            help: "Watched names and prefixes past --metrics-max-watched-names, which have no series of their own.")
        out.sample("dmabufd_watched_names_without_series", monitor.watches.count - watches.count)
        out.family("dmabufd_watched_names", .gauge, help: "Names and prefixes some client watches (entries in the kernel map).")
        out.sample("dmabufd_watched_names", monitor.watches.count)
    }

    /// Clients, and what the service refused or answered with an error.
    private func writeService(into out: inout ExpositionWriter) {
        out.family("dmabufd_clients", .gauge, help: "Clients connected to the Varlink socket.")
        out.sample("dmabufd_clients", monitor.clients)
        out.family("dmabufd_subscribers", .gauge, help: "Clients with a Subscribe stream running.")
        out.sample("dmabufd_subscribers", monitor.subscribers)
        out.family(
            "dmabufd_denials_total", .counter,
            help: "Calls and connections refused: by the policy (method, details) or by a connection limit.")
        for denial in Denial.allCases {
            out.sample("dmabufd_denials_total", counters.denials[denial, default: 0], labels: ["kind": denial.rawValue])
        }
        out.family("dmabufd_errors_total", .counter, help: "Error replies sent to clients, by Varlink error name.")
        for (error, count) in counters.errors.sorted(by: { $0.key < $1.key }) {
            out.sample("dmabufd_errors_total", count, labels: ["error": error])
        }
    }

    private static func labels(_ watch: Watch) -> ExpositionWriter.Labels {
        ["name": watch.text, "kind": watch.kind == .name ? "name" : "prefix"]
    }
}
