/// A failed system call's errno, as a value: compared by code, printed as the C library's
/// message, so a caller never turns it into text before it knows what to say.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32

    public init(_ code: Int32) {
        self.code = code
    }

    /// The calling thread's errno now; read it before anything else can change it.
    public static var current: Errno { Errno(errno) }

    /// strerror's text: "No such file or directory".
    public var description: String { String(cString: strerror(code)) }

    public static let interrupted = Errno(EINTR)
    public static let noEntry = Errno(ENOENT)
    public static let connectionRefused = Errno(ECONNREFUSED)
    public static let connectionReset = Errno(ECONNRESET)
    public static let brokenPipe = Errno(EPIPE)
    public static let accessDenied = Errno(EACCES)
    public static let notPermitted = Errno(EPERM)
    /// A socket's SO_SNDTIMEO or SO_RCVTIMEO ran out (EAGAIN, which is EWOULDBLOCK on Linux).
    public static let timedOut = Errno(EAGAIN)
}

/// Runs a system call that returns -1 and sets errno on failure, again while it is
/// interrupted by a signal (EINTR); returns what it returned, or throws its errno.
public func retryingInterrupts<Result: BinaryInteger>(_ call: () -> Result) throws(Errno) -> Result {
    while true {
        let result = call()
        if result >= 0 { return result }
        let error = Errno.current
        if error != .interrupted { throw error }
    }
}
