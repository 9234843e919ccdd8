import DmabufSystem

/// Why a socket a service manager passed cannot be served: the socket unit needs a fix.
public enum SocketActivationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Several descriptors were passed and none carries the name asked for.
    case unnamed(count: Int32, name: String)
    /// The descriptor is not a listening Unix stream socket.
    case notAListeningUnixSocket(descriptor: Int32)

    public var description: String {
        switch self {
        case .unnamed(let count, let name):
            return "\(count) sockets were passed (LISTEN_FDS) and none is named \(name) in LISTEN_FDNAMES"
        case .notAListeningUnixSocket(let descriptor):
            return "the passed descriptor \(descriptor) is not a listening Unix stream socket "
                + "(check the socket unit: ListenStream=)"
        }
    }
}

/// A listening socket handed over by a service manager, by systemd's `sd_listen_fds`
/// convention: `LISTEN_PID` is this process, `LISTEN_FDS` counts the descriptors passed
/// from 3 on, and `LISTEN_FDNAMES` names them (colon-separated, e.g. from the socket
/// unit's `FileDescriptorName=`). The variables are removed once read, so no child
/// process takes them for its own.
public enum SocketActivation {
    static let firstDescriptor: Int32 = 3

    /// The passed socket to serve, or nil when none was passed to this process. With
    /// several descriptors, the one named `name`. Throws when one was passed but cannot
    /// be served: not a listening Unix stream socket, or no way to tell which.
    public static func listener(named name: String) throws(SocketActivationError) -> Listener? {
        defer { for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(variable) } }
        guard let pid = variable("LISTEN_PID").flatMap({ pid_t($0) }), pid == getpid() else { return nil }
        guard let count = variable("LISTEN_FDS").flatMap({ Int32($0) }), count >= 1 else { return nil }
        let names = variable("LISTEN_FDNAMES")?.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let offset: Int32
        if count == 1 {
            offset = 0
        } else if let index = names?.firstIndex(of: name) {
            offset = Int32(index)
        } else {
            throw .unnamed(count: count, name: name)
        }
        let descriptor = firstDescriptor + offset
        try check(descriptor)
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return Listener(descriptor: descriptor, path: UnixSocketAddress.boundPath(of: descriptor) ?? "", file: nil)
    }

    private static func variable(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// A listening Unix stream socket, blocking or not (the server makes it non-blocking).
    private static func check(_ descriptor: Int32) throws(SocketActivationError) {
        guard option(descriptor, SO_DOMAIN) == AF_UNIX, option(descriptor, SO_TYPE) == Int32(SOCK_STREAM.rawValue),
            option(descriptor, SO_ACCEPTCONN) == 1
        else {
            throw .notAListeningUnixSocket(descriptor: descriptor)
        }
    }

    private static func option(_ descriptor: Int32, _ name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(descriptor, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
    }
}
