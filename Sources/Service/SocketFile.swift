#if canImport(Glibc)
import Glibc
#endif

/// Why the service's socket cannot be set up.
public enum SocketFileError: Error, CustomStringConvertible, Sendable {
    case alreadyServed(String)
    case cannotPrepare(String, reason: String)

    public var description: String {
        switch self {
        case .alreadyServed(let path):
            return "another dmabufd is already serving \(path); stop it first or pass --socket with another path"
        case .cannotPrepare(let path, let reason):
            return "cannot prepare socket \(path): \(reason)"
        }
    }
}

/// The service's socket path on disk: claiming it (folder created, a stale file from a
/// dead service replaced, a live one refused), binding and opening it to clients,
/// removing it.
public struct SocketFile: Sendable {
    public let path: String
    /// Mode of the socket file; clients need write permission on it to connect.
    public let mode: mode_t
    /// The socket file's group, when not the service's own.
    public let group: gid_t?

    public init(path: String, mode: mode_t = 0o666, group: gid_t? = nil) {
        self.path = path
        self.mode = mode
        self.group = group
    }

    /// Makes the path ready to bind: creates its folder (mode 0755) and removes a
    /// socket file that nobody serves any more. Refuses if a live server answers on it.
    public func claim() throws(SocketFileError) {
        let folder = parentFolder
        if !folder.isEmpty, mkdirAll(folder) != 0 {
            throw .cannotPrepare(path, reason: "cannot create \(folder): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw .cannotPrepare(path, reason: "it exists and is not a socket; remove it or pick another path")
        }
        if someoneAnswers() { throw .alreadyServed(path) }
        if unlink(path) != 0 {
            throw .cannotPrepare(path, reason: "cannot remove the stale socket: \(String(cString: strerror(errno)))")
        }
    }

    /// Binds and listens under a private name, then publishes the socket at `path`; its
    /// descriptor is close-on-exec. Call `claim` first.
    public func bindListening(backlog: Int32 = 1024) throws(SocketFileError) -> Listener {
        let staged = stagingPath
        guard staged.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw .cannotPrepare(path, reason: "the path is too long for a Unix socket")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .cannotPrepare(path, reason: "socket: \(String(cString: strerror(errno)))") }
        unlink(staged)
        var address = SocketFile.address(staged)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(staged)
            throw .cannotPrepare(path, reason: "bind: \(reason)")
        }
        do {
            try publish()
        } catch {
            close(fd)
            throw error
        }
        return Listener(descriptor: fd, path: path, file: self)
    }

    /// Where to bind before the socket is published: the same folder (so the rename
    /// is atomic), a name no client looks for.
    private var stagingPath: String {
        guard let slash = path.lastIndex(of: "/") else { return ".\(path).\(getpid())" }
        return "\(path[...slash]).\(path[path.index(after: slash)...]).\(getpid())"
    }

    /// Sets the bound socket's group and mode, then moves it to `path` in one step, so no
    /// client ever finds a socket that accepts root but refuses other users.
    private func publish() throws(SocketFileError) {
        let staged = stagingPath
        if let group, chown(staged, uid_t.max, group) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(staged)
            throw .cannotPrepare(path, reason: "chown to group \(group): \(reason)")
        }
        if chmod(staged, mode) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(staged)
            throw .cannotPrepare(path, reason: "chmod: \(reason)")
        }
        if rename(staged, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(staged)
            throw .cannotPrepare(path, reason: "cannot move the socket into place: \(reason)")
        }
    }

    public func remove() {
        unlink(path)
    }

    private var parentFolder: String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    private func someoneAnswers() -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return false }
        var address = SocketFile.address(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    /// A `sockaddr_un` for `path`, which the caller has checked fits.
    private static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
        }
        return address
    }

    private func mkdirAll(_ folder: String) -> Int32 {
        var partial = folder.hasPrefix("/") ? "" : "."
        for component in folder.split(separator: "/", omittingEmptySubsequences: true) {
            partial += "/" + component
            if mkdir(partial, 0o755) != 0 && errno != EEXIST { return -1 }
        }
        return 0
    }
}
