import DmabufSystem

/// A shared, read-write mapping of an mmapable BPF map (array or global data):
/// the program's writes are visible here without a syscall.
struct MappedMap {
    let base: UnsafeMutableRawPointer
    let length: Int

    /// Maps the first `bytes` of the map behind `fd`, rounded up to whole pages.
    init(fd: Int32, bytes: Int, what: String) throws(ScannerError) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let length = (bytes + page - 1) / page * page
        let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw .loadFailed("cannot mmap the \(what) map: \(libbpfErrorText(errno))")
        }
        base = p
        self.length = length
    }

    func unmap() {
        munmap(base, length)
    }
}
