import DmabufSystem

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

    /// Best effort: a manager that cannot be told is not a reason to stop serving.
    private func send(_ message: String) {
        guard let socketPath, let address = try? UnixSocketAddress(socketPath) else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { Descriptor.close(fd) }
        Array(message.utf8).withUnsafeBytes { try? address.send($0, from: fd) }
    }
}
