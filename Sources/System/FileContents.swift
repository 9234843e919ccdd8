/// Why a file could not be read whole.
public enum FileReadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// open or read failed.
    case system(Errno)
    /// The file holds more than the limit.
    case tooLarge(limit: Int)

    public var description: String {
        switch self {
        case .system(let error): return error.description
        case .tooLarge(let limit): return "larger than \(limit) bytes"
        }
    }
}

/// Reads a whole file (a configuration file, a procfs or sysfs file), refusing one larger
/// than `limit` bytes: what is read here is kept in memory.
public func readFile(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] {
    let fd: Int32
    do {
        fd = try retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC) }
    } catch {
        throw .system(error)
    }
    defer { close(fd) }
    return try Descriptor.readAll(fd, limit: limit)
}

/// `readFile` as UTF-8 text, for the kernel's small text files; nil when it cannot be read.
public func readTextFile(_ path: String, limit: Int = 65_536) -> String? {
    (try? readFile(path, limit: limit)).map { String(decoding: $0, as: UTF8.self) }
}
