/// The result of `ScanBackend.runPass`.
public struct PassReport: Sendable {
    public var totals: PassTotals
    /// Every buffer when the pass collected them; empty otherwise.
    public var buffers: [BufferRecord]

    public init(totals: PassTotals, buffers: [BufferRecord]) {
        self.totals = totals
        self.buffers = buffers
    }
}
