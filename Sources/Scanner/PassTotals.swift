/// What one pass saw in total.
public struct PassTotals: Sendable, Equatable {
    /// Increases by one with every completed pass, starting at 1.
    public var id: UInt64
    /// CLOCK_REALTIME when the pass started, microseconds since the epoch.
    public var startedUsec: Int64
    /// CLOCK_MONOTONIC around the program run (all runs of a listing), nanoseconds.
    public var durationNsec: Int64
    /// Every buffer the pass saw, named or not, and their total size.
    public var buffers: UInt64
    public var bytes: UInt64
    /// Every exporter the pass saw, by name bytes, with its buffers and their total size.
    public var exporters: [ExporterTotals]

    public init(
        id: UInt64, startedUsec: Int64, durationNsec: Int64, buffers: UInt64, bytes: UInt64,
        exporters: [ExporterTotals] = []
    ) {
        self.id = id
        self.startedUsec = startedUsec
        self.durationNsec = durationNsec
        self.buffers = buffers
        self.bytes = bytes
        self.exporters = exporters
    }
}
