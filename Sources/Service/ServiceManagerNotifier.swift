import Glibc

/// Tells a service manager how the service is doing, by systemd's notify protocol: one
/// datagram of `KEY=VALUE` lines to the socket in `$NOTIFY_SOCKET` (a path, or `@name`
/// in the abstract namespace). Without that variable it does nothing. Written here
/// rather than linked from libsystemd: it is one `sendto`.
public struct ServiceManagerNotifier: Sendable {
    private let socketPath: String?

    /// Reads `$NOTIFY_SOCKET`.
    public init() {
        socketPath = getenv("NOTIFY_SOCKET").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The service accepts connections; `status` is a one-line summary for `systemctl status`.
    public func ready(status: String) {
        send("READY=1\nSTATUS=\(status)")
    }

    public func stopping() {
        send("STOPPING=1\nSTATUS=stopping")
    }

    private func send(_ message: String) {
        guard let socketPath, socketPath.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            return
        }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let abstract = socketPath.hasPrefix("@")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: socketPath.utf8)
            if abstract { raw[0] = 0 }  // "@name" is "\0name"
        }
        // An abstract name is as long as it is, with no NUL after it.
        let pathLength = socketPath.utf8.count + (abstract ? 0 : 1)
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathLength)
        _ = message.utf8CString.withUnsafeBufferPointer { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, text.baseAddress, text.count - 1, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
    }
}
