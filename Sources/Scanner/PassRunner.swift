/// What the service's BPF owner drives; the seam for the VM tier, benchmarks
/// and unit-test fakes. Calls are not concurrent: one owner serialises them.
public protocol PassRunner: AnyObject {
    /// How many names can be watched at once.
    var capacity: Int { get }
    var watchedCount: Int { get }
    /// Starts watching `name` (1...31 bytes, no NUL; the caller checks both and
    /// that it is not watched yet: a name already watched changes nothing).
    /// Throws `capacityExhausted` when every slot is in use.
    func insert(name: [UInt8]) throws(ScannerError)
    /// Stops watching `name`; a name not watched is ignored.
    func remove(name: [UInt8])
    /// Runs one pass over every DMA-BUF; with `collectBuffers`, also returns each buffer's record.
    func runPass(collectBuffers: Bool) throws(ScannerError) -> PassReport
    /// What the last completed pass saw of `name`: zero if it is not watched,
    /// was inserted after that pass, or no buffer carried it. No syscall.
    func stats(for name: [UInt8]) -> NameStats
}
