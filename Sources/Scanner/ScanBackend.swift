/// Everything the service asks of the kernel side: the watched entries in the kernel's
/// maps, a pass over every DMA-BUF, and what the last pass counted. `DmabufProgram` (the
/// DMA-BUF iterator) is one; tests give fakes. Calls are not concurrent: one owner
/// serialises them.
public protocol ScanBackend: AnyObject {
    /// How many names and prefixes can be watched at once, together.
    var capacity: Int { get }
    /// Names and prefixes watched now.
    var watchedCount: Int { get }
    /// Starts counting for every watch of `watches` (one already counted changes nothing),
    /// or for none of them: throws `capacityExhausted` when there are not slots enough.
    func insert(_ watches: [Watch]) throws(ScannerError)
    /// Stops counting for `watches`; one not counted is ignored.
    func remove(_ watches: [Watch])
    /// Runs one pass over every DMA-BUF, returning the records of the buffers `collecting` asks for.
    func runPass(collecting: BufferCollection) throws(ScannerError) -> PassReport
    /// Every hold of a DMA-BUF by a process now (open fds and mappings), and which pid
    /// namespace each of `identifying` is in. Throws `attributionUnavailable` where the
    /// kernel cannot tell.
    func readHolders(identifying pids: Set<UInt32>) throws(ScannerError) -> HolderWalk
    /// What the last completed pass saw of `watch`: zero if it is not watched, was
    /// inserted after that pass, or no buffer matched it. No syscall.
    func stats(for watch: Watch) -> NameStats
    /// Names and prefixes the kernel maps hold: `watchedCount` plus keys a failed delete
    /// left there. Kept as the maps are written, not walked: no syscall.
    func mapEntryCount() -> Int
}
