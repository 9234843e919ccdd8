/// Reading and writing an open file descriptor (a file, a pipe, a socket), each call
/// retried when a signal interrupts it.
public enum Descriptor {
    /// Writes every byte, however many calls that takes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        try whole(bytes) { rest in write(fd, rest.baseAddress, rest.count) }
    }

    /// Sends every byte on a socket with MSG_NOSIGNAL: a peer that went away is EPIPE
    /// here, not a SIGPIPE that kills the process.
    public static func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        try whole(bytes) { rest in send(fd, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL)) }
    }

    public static func writeAll(_ fd: Int32, _ text: String) throws(Errno) {
        try Array(text.utf8).withUnsafeBytes { raw in Result { () throws(Errno) in try writeAll(fd, raw) } }.get()
    }

    /// What the descriptor has next, at most `buffer.count` bytes; 0 at the end (EOF, or a
    /// peer that closed its side).
    public static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retryingInterrupts { read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Everything `fd` has until its end, refusing more than `limit` bytes: what is read
    /// here is kept in memory.
    public static func readAll(_ fd: Int32, limit: Int) throws(FileReadError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { buffer in
                    Result { () throws(Errno) in try readSome(fd, into: buffer) }
                }.get()
            } catch {
                throw .system(error)
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            guard bytes.count <= limit else { throw .tooLarge(limit: limit) }
        }
    }

    /// Closes `fd`. Not retried on EINTR: on Linux the descriptor is gone either way.
    public static func close(_ fd: Int32) {
        _ = unistdClose(fd)
    }

    /// Writes `text` to standard error, for a last line before exiting: a failure has
    /// nowhere left to be reported, so it is ignored.
    public static func printError(_ text: String) {
        try? writeAll(STDERR_FILENO, text)
    }

    /// Calls `transfer` on what is left of `bytes` until all of it has gone.
    private static func whole(_ bytes: UnsafeRawBufferPointer, _ transfer: (UnsafeRawBufferPointer) -> Int)
        throws(Errno)
    {
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            done += try retryingInterrupts { transfer(rest) }
        }
    }
}

/// close(2), under a name the `Descriptor.close` member does not hide.
private func unistdClose(_ fd: Int32) -> Int32 { close(fd) }
