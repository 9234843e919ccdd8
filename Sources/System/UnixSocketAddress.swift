/// Why a path cannot be a Unix socket's address.
public enum UnixSocketAddressError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    /// The path holds a NUL byte, which would cut it short.
    case containsNUL
    /// Longer than `sun_path` holds with its terminating NUL (107 bytes on Linux).
    case tooLong(limit: Int)

    public var description: String {
        switch self {
        case .empty: return "the path is empty"
        case .containsNUL: return "the path contains a NUL byte"
        case .tooLong(let limit): return "the path is longer than \(limit) bytes, the most a Unix socket address holds"
        }
    }
}

/// The address of a Unix socket: a path in the file system, or `@name` in the abstract
/// namespace (Linux), as `bind`, `connect` and `sendto` take it.
public struct UnixSocketAddress: Sendable, CustomStringConvertible {
    /// The longest path `sun_path` holds, its terminating NUL not counted.
    public static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// As given: a path, or `@name`.
    public let path: String
    private let address: sockaddr_un
    private let length: socklen_t

    public init(_ path: String) throws(UnixSocketAddressError) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty else { throw .empty }
        guard !bytes.contains(0) else { throw .containsNUL }
        guard bytes.count <= Self.maxPathBytes else { throw .tooLong(limit: Self.maxPathBytes) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let abstract = bytes[0] == UInt8(ascii: "@")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            if abstract { raw[0] = 0 }  // "@name" is "\0name"
        }
        self.path = path
        self.address = address
        // A path ends with its NUL; an abstract name is as long as it is, with none after it.
        self.length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
    }

    public var description: String { path }

    /// Binds the socket `fd` to this address.
    public func bind(_ fd: Int32) throws(Errno) {
        _ = try retryingInterrupts { withSocketAddress { bindSocket(fd, $0, $1) } }
    }

    /// Connects the socket `fd` to this address. EINTR is thrown, not retried: the
    /// connection goes on in the background, and connecting again would fail.
    public func connect(_ fd: Int32) throws(Errno) {
        if withSocketAddress({ connectSocket(fd, $0, $1) }) != 0 { throw .current }
    }

    /// Sends one datagram to this address from the datagram socket `fd`.
    public func send(_ bytes: UnsafeRawBufferPointer, from fd: Int32) throws(Errno) {
        _ = try retryingInterrupts {
            withSocketAddress { sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, $1) }
        }
    }

    private func withSocketAddress<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// The path a socket is bound to; "" for an unnamed or abstract one, nil when the
    /// descriptor is not a Unix socket.
    public static func boundPath(of fd: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0, address.sun_family == sa_family_t(AF_UNIX) else { return nil }
        return withUnsafeBytes(of: address.sun_path) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

// bind(2) and connect(2), under names the members above do not hide.
private func bindSocket(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    bind(fd, address, length)
}

private func connectSocket(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}
