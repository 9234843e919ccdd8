import DmabufSystem
import NIOCore

/// Why the text of `--metrics-address` is not an address to serve on: the text as given,
/// and what is wrong with it, in a line fit for `ValidationError`.
public struct MetricsAddressError: Error, CustomStringConvertible, Sendable, Equatable {
    public let text: String
    public let reason: String

    public var description: String { "\"\(text)\" is not an address to serve metrics on: \(reason)" }
}

/// Where to serve metrics: a numeric IP address and a TCP port, written `HOST:PORT` —
/// `127.0.0.1:9464`, `0.0.0.0:9464`, `[::1]:9464`, `[::]:9464`. Port 0 asks for any free
/// port. Host names are refused rather than looked up: the address is bound while the
/// process is still privileged, and nothing there should depend on a resolver.
public struct MetricsAddress: Sendable, CustomStringConvertible {
    /// The host as written, without brackets: `127.0.0.1`, `::1`.
    public let host: String
    public let port: UInt16
    /// The address and port as `bind` takes them.
    private let address: SocketAddress

    private static let accepted =
        "write HOST:PORT with HOST a numeric IPv4 address (127.0.0.1, 0.0.0.0) or an IPv6 address in brackets "
        + "([::1], [::]) and PORT 0 to 65535 (0: any free port)"

    public init(_ text: String) throws(MetricsAddressError) {
        func refuse(_ reason: String) -> MetricsAddressError { MetricsAddressError(text: text, reason: reason) }
        guard let colon = text.lastIndex(of: ":") else { throw refuse("no port; \(Self.accepted)") }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), let port = UInt16(portText) else {
            throw refuse("the port must be a number from 0 to 65535; \(Self.accepted)")
        }
        // NIO parses numeric addresses only (inet_pton): it never asks a resolver.
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            // A zone (%lo) names an interface, which the address alone should not depend on.
            guard !host.contains("%"), let address = try? SocketAddress(ipAddress: host, port: Int(port)),
                address.protocol == .inet6
            else {
                throw refuse("[\(host)] is not a numeric IPv6 address (no zone, no host name); \(Self.accepted)")
            }
            self.address = address
        } else if let address = try? SocketAddress(ipAddress: host, port: Int(port)), address.protocol == .inet {
            self.address = address
        } else if host.contains(":") {
            throw refuse("an IPv6 address goes in brackets, as in [::1]:9464")
        } else {
            throw refuse(
                "\"\(host)\" is not a numeric IPv4 address, and host names are not looked up; \(Self.accepted)")
        }
        self.host = host
        self.port = port
    }

    public var description: String { Self.format(host: host, port: port, v6: address.protocol == .inet6) }

    private static func format(host: String, port: UInt16, v6: Bool) -> String {
        v6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Opens a listening TCP socket on this address, close-on-exec, with SO_REUSEADDR (a
    /// restarted service binds again at once, past the old connections' TIME_WAIT).
    ///
    /// An IPv6 address is bound with IPV6_V6ONLY off, whatever the system default
    /// (net.ipv6.bindv6only): `[::]` then serves IPv4 clients too, as "every address" reads.
    ///
    /// - Parameter backlog: passed to `listen`. NIO calls `listen` again with its own
    ///   backlog (128 by default) when it adopts the socket.
    public func bindListening(backlog: Int32 = 128) throws(MetricsListenerError) -> TCPListener {
        let v6 = address.protocol == .inet6
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsListenerError(address: description, error: .current) }
        var on: Int32 = 1
        var off: Int32 = 0
        let size = socklen_t(MemoryLayout<Int32>.size)
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, size) == 0,
            !v6 || setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, size) == 0,
            address.withSockAddr({ bind(fd, $0, socklen_t($1)) }) == 0, listen(fd, backlog) == 0
        else {
            let failure = MetricsListenerError(address: description, error: .current)
            Descriptor.close(fd)
            throw failure
        }
        return TCPListener(descriptor: fd, address: Self.boundAddress(fd) ?? description)
    }

    /// Where the socket is bound, as `HOST:PORT`: the port the kernel chose when 0 was asked.
    private static func boundAddress(_ fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        let address: SocketAddress
        switch Int32(storage.ss_family) {
        case AF_INET: address = SocketAddress(withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) })
        case AF_INET6: address = SocketAddress(withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) })
        default: return nil
        }
        guard let host = address.ipAddress, let port = address.port, let port = UInt16(exactly: port) else { return nil }
        return format(host: host, port: port, v6: address.protocol == .inet6)
    }
}

/// Why the metrics address cannot be served: the address and the system's reason.
public struct MetricsListenerError: Error, CustomStringConvertible, Sendable {
    public let address: String
    public let error: Errno

    public var description: String { "cannot serve metrics on \(address): \(error)" }
}

extension Character {
    /// 0–9 only: `isNumber` would also take other scripts' digits and fractions.
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
