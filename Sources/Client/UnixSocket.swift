import DmabufSystem

/// The system calls of a blocking Unix stream socket, each retried on EINTR,
/// each failure turned into a `ClientError`. Nothing here knows Varlink.
enum UnixSocket {
    /// A connected socket's descriptor (close-on-exec), or the reason there is none.
    /// `timeout` (seconds) bounds the connect and every later send: a service whose
    /// backlog is full, or that reads nothing, makes them wait (SO_SNDTIMEO).
    static func connect(path: String, timeout: Double?) throws(ClientError) -> Int32 {
        let address: UnixSocketAddress
        do {
            address = try UnixSocketAddress(path)
        } catch {
            throw .socketPathTooLong(path: path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw systemError("cannot create a socket", .current) }
        if let timeout {
            var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.towardZero)) * 1e6))
            guard setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                let error = Errno.current
                Descriptor.close(fd)
                throw systemError("cannot set the socket's timeout", error)
            }
        }
        do {
            try address.connect(fd)
        } catch {
            var error = error
            // An interrupted connect goes on in the background: wait for it, then ask how it ended.
            if error == .interrupted { error = finishInterruptedConnect(fd) }
            if error.code != 0 {
                Descriptor.close(fd)
                switch error {
                case .noEntry, .connectionRefused: throw .serviceNotRunning(path: path)
                case .accessDenied, .notPermitted: throw .permissionDenied(path: path)
                case .timedOut: throw .timedOut(seconds: timeout ?? 0)
                default: throw systemError("cannot connect to \(path)", error)
                }
            }
        }
        return fd
    }

    /// Errno(0) once the connection is up, else the errno it ended with.
    private static func finishInterruptedConnect(_ fd: Int32) -> Errno {
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        do {
            _ = try retryingInterrupts { poll(&poller, 1, -1) }
        } catch {
            return error
        }
        var code: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size) == 0 else { return .current }
        return Errno(code)
    }

    /// Sends all of `bytes`, however many writes that takes; `timeout` is the one `connect` set.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8], timeout: Double?) throws(ClientError) {
        do {
            try bytes.withUnsafeBytes { raw in Result { () throws(Errno) in try Descriptor.sendAll(fd, raw) } }.get()
        } catch .brokenPipe, .connectionReset {
            throw .connectionClosed
        } catch .timedOut {
            throw .timedOut(seconds: timeout ?? 0)
        } catch {
            throw systemError("cannot send to dmabufd", error)
        }
    }

    /// Whatever the peer sent next, at most `into.count` bytes; 0 bytes means it closed the connection.
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(ClientError) -> Int {
        do {
            return try Descriptor.readSome(fd, into: buffer)
        } catch .connectionReset {
            throw .connectionClosed
        } catch {
            throw systemError("cannot receive from dmabufd", error)
        }
    }

    static func systemError(_ what: String, _ error: Errno) -> ClientError {
        .system("\(what): \(error)")
    }
}
