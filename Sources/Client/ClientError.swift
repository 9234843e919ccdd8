import DmabufProtocol

/// Why a call to dmabufd failed. `description` is one line a user can act on.
public enum ClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No socket at `path` (ENOENT), or nobody listening on it (ECONNREFUSED).
    case serviceNotRunning(path: String)
    /// The socket or a folder above it may not be opened by this user (EACCES, EPERM).
    case permissionDenied(path: String)
    /// `path` does not fit in a Unix socket address (107 bytes at most).
    case socketPathTooLong(path: String)
    /// dmabufd closed the connection, or it was closed after an earlier error.
    case connectionClosed
    /// dmabufd sent something that is not a Varlink reply we can read.
    case `protocol`(String)
    /// dmabufd answered with an error reply.
    case replyError(VarlinkError)
    /// dmabufd sent nothing for `seconds` while a reply was due, or took no more of a
    /// call, or the connection was not taken: it is wedged, or far too busy.
    case timedOut(seconds: Double)
    /// Any other failure of a system call: what was done, and strerror's text.
    case system(String)

    public var description: String {
        switch self {
        case .serviceNotRunning(let path):
            return "dmabufd is not running (no socket at \(path)); start it with `make run` or `dmabufd`"
        case .permissionDenied(let path):
            return "permission denied on \(path); run as a user who may use dmabufd's socket, or as root"
        case .socketPathTooLong(let path):
            return "the socket path \(path) is longer than 107 bytes; use a shorter path"
        case .connectionClosed:
            return "dmabufd closed the connection (it may have stopped or restarted); try again"
        case .protocol(let problem):
            return "unexpected reply from dmabufd: \(problem)"
        case .replyError(let error):
            return "dmabufd replied with an error: \(error)"
        case .timedOut(let seconds):
            return "dmabufd did not answer within \(seconds.formatted) s (is it stopped or wedged? "
                + "`systemctl status dmabufd` shows); --timeout waits longer"
        case .system(let problem):
            return problem
        }
    }
}

extension Double {
    /// 30 rather than 30.0; 0.5 as it is.
    fileprivate var formatted: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}
