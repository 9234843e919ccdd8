import DmabufSystem

/// Why the service's socket cannot be set up.
public enum SocketFileError: Error, CustomStringConvertible, Sendable {
    case alreadyServed(String)
    case unsafeFolder(String, folder: String, String)
    case cannotPrepare(String, reason: String)

    public var description: String {
        switch self {
        case .alreadyServed(let path):
            return "another dmabufd is already serving \(path); stop it first or pass --socket with another path"
        case .unsafeFolder(let path, let folder, let danger):
            return "cannot prepare socket \(path): its folder \(folder) is not safe, \(danger); use a folder "
                + "only root (or the service's user) can write, or a sticky one owned by root such as /tmp"
        case .cannotPrepare(let path, let reason):
            return "cannot prepare socket \(path): \(reason)"
        }
    }
}

/// The service's socket path on disk, as asked for: where, the file's mode and group.
/// `claim` makes this process the path's only server; the claim binds it.
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

    /// Checks the folder (created when missing), takes the lock beside the socket and
    /// removes a socket file nobody serves any more. Refuses when another process holds
    /// the lock or a live server answers on the path.
    ///
    /// - Parameter owner: the user the service runs as later, when not this one: a folder
    ///   of its may hold the socket, and the lock, the socket and a folder holding nothing
    ///   else become its own, so that it can remove them when it stops.
    public func claim(handingTo owner: SocketOwner? = nil) throws(SocketFileError) -> ClaimedSocketPath {
        let (folderPath, name) = split
        let trusted = Set([0, geteuid()] + (owner.map { [$0.uid] } ?? []))
        let folder = try SocketFolder.checked(folderPath, socket: path, name: name, trusting: trusted, handingTo: owner)
        do throws(SocketFileError) {
            let lock = try takeLock(in: folder, name: "\(name).lock", trusting: trusted, handingTo: owner)
            do throws(SocketFileError) {
                try removeStale(in: folder, name: name)
                return ClaimedSocketPath(
                    file: self, folder: folder, name: name, lock: lock, lockName: "\(name).lock", owner: owner)
            } catch {
                Descriptor.close(lock)
                throw error
            }
        } catch {
            Descriptor.close(folder.descriptor)
            throw error
        }
    }

    /// An exclusive `flock` on `name`, held until the process exits. The holder removes
    /// the file as it stops, so a lock taken on a file that was removed meanwhile is
    /// let go and taken again on the file that is there now.
    private func takeLock(
        in folder: SocketFolder, name: String, trusting owners: Set<uid_t>, handingTo owner: SocketOwner?
    ) throws(SocketFileError) -> Int32 {
        let lockPath = "\(folder.path)/\(name)"
        while true {
            let fd = openat(folder.descriptor, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw .cannotPrepare(path, reason: "cannot open the lock \(lockPath): \(Errno.current)")
            }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, owners.contains(info.st_uid) else {
                Descriptor.close(fd)
                throw .cannotPrepare(path, reason: "the lock \(lockPath) is not a file of this service's; remove it")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let error = Errno.current
                Descriptor.close(fd)
                if error.code == EWOULDBLOCK { throw .alreadyServed(path) }
                throw .cannotPrepare(path, reason: "cannot lock \(lockPath): \(error)")
            }
            if let current = try? folder.entry(name), current.st_dev == info.st_dev, current.st_ino == info.st_ino {
                if let owner, info.st_uid != owner.uid, fchown(fd, owner.uid, owner.gid) != 0 {
                    let error = Errno.current
                    Descriptor.close(fd)
                    throw .cannotPrepare(path, reason: "cannot give the lock \(lockPath) to uid \(owner.uid): \(error)")
                }
                return fd
            }
            Descriptor.close(fd)
        }
    }

    private func removeStale(in folder: SocketFolder, name: String) throws(SocketFileError) {
        let existing: stat?
        do {
            existing = try folder.entry(name)
        } catch {
            throw .cannotPrepare(path, reason: "\(error)")
        }
        guard let existing else { return }
        guard existing.st_mode & S_IFMT == S_IFSOCK else {
            throw .cannotPrepare(path, reason: "it exists and is not a socket; remove it or pick another path")
        }
        // A server that does not take the lock (another program, an older dmabufd).
        if someoneAnswers() { throw .alreadyServed(path) }
        if unlinkat(folder.descriptor, name, 0) != 0 {
            throw .cannotPrepare(path, reason: "cannot remove the stale socket: \(Errno.current)")
        }
    }

    /// The folder ("." when the path names none) and the socket's name in it.
    private var split: (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }

    private func someoneAnswers() -> Bool {
        guard let address = try? UnixSocketAddress(path) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Descriptor.close(fd) }
        return (try? address.connect(fd)) != nil
    }
}
