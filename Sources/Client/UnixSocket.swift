import Glibc

/// The system calls of a blocking Unix stream socket, each retried on EINTR,
/// each failure turned into a `ClientError`. Nothing here knows Varlink.
enum UnixSocket {
    /// A connected socket's descriptor (close-on-exec), or the reason there is none.
    static func connect(path: String) throws(ClientError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // sun_path needs room for the terminating NUL.
        guard !pathBytes.isEmpty, pathBytes.count < capacity, !pathBytes.contains(0) else {
            throw .socketPathTooLong(path: path)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            sunPath.copyBytes(from: pathBytes)
            sunPath[pathBytes.count] = 0
        }

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw systemError("cannot create a socket", errno) }

        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        if result != 0 {
            var code = errno
            // An interrupted connect goes on in the background: wait for it, then ask how it ended.
            if code == EINTR { code = finishInterruptedConnect(fd) }
            if code != 0 {
                close(fd)
                switch code {
                case ENOENT, ECONNREFUSED: throw .serviceNotRunning(path: path)
                case EACCES, EPERM: throw .permissionDenied(path: path)
                default: throw systemError("cannot connect to \(path)", code)
                }
            }
        }
        return fd
    }

    /// 0 once the connection is up, else the errno it ended with.
    private static func finishInterruptedConnect(_ fd: Int32) -> Int32 {
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while poll(&poller, 1, -1) < 0 {
            guard errno == EINTR else { return errno }
        }
        var code: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size) == 0 else { return errno }
        return code
    }

    /// Writes all of `bytes`, however many writes that takes. MSG_NOSIGNAL:
    /// a peer that went away is an error here, not a SIGPIPE that kills the process.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws(ClientError) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EPIPE || code == ECONNRESET { throw .connectionClosed }
                throw systemError("cannot send to dmabufd", code)
            }
            sent += count
        }
    }

    /// Whatever the peer sent next, at most `into.count` bytes; 0 bytes means it closed the connection.
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(ClientError) -> Int {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return count }
            let code = errno
            if code == EINTR { continue }
            if code == ECONNRESET { throw .connectionClosed }
            throw systemError("cannot receive from dmabufd", code)
        }
    }

    static func systemError(_ what: String, _ code: Int32) -> ClientError {
        .system("\(what): \(String(cString: strerror(code)))")
    }
}
