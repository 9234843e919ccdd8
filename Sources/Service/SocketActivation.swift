import Glibc

/// The socket a service accepts connections on: its descriptor, where it is, and its
/// file when the service made it (and so removes it when it stops).
public struct Listener: Sendable {
    public let descriptor: Int32
    public let path: String
    /// nil for a socket a service manager handed over: its file is the manager's.
    public let file: SocketFile?

    public init(descriptor: Int32, path: String, file: SocketFile?) {
        self.descriptor = descriptor
        self.path = path
        self.file = file
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
    public static func listener(named name: String) throws(StartupError) -> Listener? {
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
            throw StartupError(
                description: "\(count) sockets were passed (LISTEN_FDS) and none is named \(name) in LISTEN_FDNAMES")
        }
        let descriptor = firstDescriptor + offset
        try check(descriptor)
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return Listener(descriptor: descriptor, path: boundPath(descriptor), file: nil)
    }

    private static func variable(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// A listening Unix stream socket, blocking or not (the server makes it non-blocking).
    private static func check(_ descriptor: Int32) throws(StartupError) {
        guard option(descriptor, SO_DOMAIN) == AF_UNIX, option(descriptor, SO_TYPE) == Int32(SOCK_STREAM.rawValue),
            option(descriptor, SO_ACCEPTCONN) == 1
        else {
            throw StartupError(
                description: "the passed descriptor \(descriptor) is not a listening Unix stream socket (check the socket unit: ListenStream=)")
        }
    }

    private static func option(_ descriptor: Int32, _ name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(descriptor, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
    }

    /// The path the socket is bound to, for the log ("" for an abstract or unnamed one).
    private static func boundPath(_ descriptor: Int32) -> String {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return "" }
        return withUnsafeBytes(of: address.sun_path) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
