/// What the service's BPF owner drives; the seam for the VM tier, benchmarks
/// and unit-test fakes. Calls are not concurrent: one owner serialises them.
public protocol PassRunner: AnyObject {
    /// How many names and prefixes can be watched at once, together.
    var capacity: Int { get }
    /// Names and prefixes watched now.
    var watchedCount: Int { get }
    /// Starts watching `key` (1...31 bytes, no NUL; a key already watched changes
    /// nothing). Throws `capacityExhausted` when every slot is in use.
    func insert(_ key: WatchKey) throws(ScannerError)
    /// Stops watching `key`; a key not watched is ignored.
    func remove(_ key: WatchKey)
    /// Runs one pass over every DMA-BUF, returning the records of the buffers `collecting` asks for.
    func runPass(collecting: BufferCollection) throws(ScannerError) -> PassReport
    /// What the last completed pass saw of `key`: zero if it is not watched,
    /// was inserted after that pass, or no buffer matched it. No syscall.
    func stats(for key: WatchKey) -> NameStats
    /// Names and prefixes the kernel maps hold, counted in the maps themselves: what
    /// `watchedCount` should be, checked where it matters (Status, tests).
    func mapEntryCount() -> Int
}
