import DmabufSystem

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
        if !folder.isEmpty, let error = mkdirAll(folder) {
            throw .cannotPrepare(path, reason: "cannot create \(folder): \(error)")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw .cannotPrepare(path, reason: "it exists and is not a socket; remove it or pick another path")
        }
        if someoneAnswers() { throw .alreadyServed(path) }
        if unlink(path) != 0 {
            throw .cannotPrepare(path, reason: "cannot remove the stale socket: \(Errno.current)")
        }
    }

    /// Binds and listens under a private name, then publishes the socket at `path`; its
    /// descriptor is close-on-exec. Call `claim` first.
    public func bindListening(backlog: Int32 = 1024) throws(SocketFileError) -> Listener {
        let staged = stagingPath
        let address: UnixSocketAddress
        do {
            address = try UnixSocketAddress(staged)
        } catch {
            throw .cannotPrepare(path, reason: "\(error)")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .cannotPrepare(path, reason: "socket: \(Errno.current)") }
        unlink(staged)
        do throws(Errno) {
            try address.bind(fd)
            if listen(fd, backlog) != 0 { throw .current }
        } catch {
            Descriptor.close(fd)
            unlink(staged)
            throw .cannotPrepare(path, reason: "bind: \(error)")
        }
        do {
            try publish()
        } catch {
            Descriptor.close(fd)
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
        func failed(_ what: String) -> SocketFileError {
            let reason = "\(what): \(Errno.current)"
            unlink(staged)
            return .cannotPrepare(path, reason: reason)
        }
        if let group, chown(staged, uid_t.max, group) != 0 { throw failed("chown to group \(group)") }
        if chmod(staged, mode) != 0 { throw failed("chmod") }
        if rename(staged, path) != 0 { throw failed("cannot move the socket into place") }
    }

    public func remove() {
        unlink(path)
    }

    private var parentFolder: String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    private func someoneAnswers() -> Bool {
        guard let address = try? UnixSocketAddress(path) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Descriptor.close(fd) }
        return (try? address.connect(fd)) != nil
    }

    /// Creates `folder` and its parents (mode 0755); the errno of the first that fails.
    private func mkdirAll(_ folder: String) -> Errno? {
        var partial = folder.hasPrefix("/") ? "" : "."
        for component in folder.split(separator: "/", omittingEmptySubsequences: true) {
            partial += "/" + component
            if mkdir(partial, 0o755) != 0 && errno != EEXIST { return .current }
        }
        return nil
    }
}
