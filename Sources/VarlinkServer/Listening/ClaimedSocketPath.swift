import DmabufSystem

/// A socket path this process holds the lock of, in its checked folder: ready to bind.
public struct ClaimedSocketPath: Sendable {
    public let file: SocketFile
    let folder: SocketFolder
    let name: String
    /// The `flock`ed descriptor; open for as long as the process serves.
    let lock: Int32
    let lockName: String
    /// Who the socket file is made to belong to; nil: this process's user.
    let owner: SocketOwner?

    /// Whether the service, once it runs as `owner`, can remove the socket and the lock
    /// when it stops. When not (a folder of root's that holds other files too), they are
    /// left behind, and the next start replaces them.
    public var ownerRemovesFiles: Bool { folder.ownerRemovesEntries }

    /// Binds and listens in a private folder of its own, sets the group and mode there,
    /// then renames the socket to its path: no client ever finds a socket that refuses
    /// it, and no name another user can reach is ever chowned or chmodded. The
    /// descriptor is close-on-exec.
    public func bindListening(backlog: Int32 = 1024) throws(SocketFileError) -> Listener {
        let path = file.path
        let staging = try makeStagingFolder()
        let stagingFD = openat(folder.descriptor, staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        var fd: Int32 = -1
        func failed(_ what: String, _ error: some Error) -> SocketFileError {
            if fd >= 0 { Descriptor.close(fd) }
            if stagingFD >= 0 {
                unlinkat(stagingFD, "s", 0)
                Descriptor.close(stagingFD)
            }
            unlinkat(folder.descriptor, staging, AT_REMOVEDIR)
            return .cannotPrepare(path, reason: "\(what): \(error)")
        }
        guard stagingFD >= 0 else { throw failed("cannot open \(staging)", Errno.current) }
        let address: UnixSocketAddress
        do {
            address = try UnixSocketAddress("\(folder.path)/\(staging)/s")
        } catch {
            throw failed("the path is too long to bind beside it", error)
        }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failed("socket", Errno.current) }
        do throws(Errno) {
            try address.bind(fd)
            if listen(fd, backlog) != 0 { throw .current }
        } catch {
            throw failed("bind", error)
        }
        var bound = stat()
        guard fstatat(stagingFD, "s", &bound, AT_SYMLINK_NOFOLLOW) == 0, bound.st_mode & S_IFMT == S_IFSOCK else {
            throw failed("the socket is not where it was bound (was \(folder.path) moved?)", Errno.current)
        }
        // The mode first: once the socket is another user's, only CAP_FOWNER could change it.
        if fchmodat(stagingFD, "s", file.mode, 0) != 0 { throw failed("chmod", Errno.current) }
        if owner != nil || file.group != nil,
            fchownat(stagingFD, "s", owner?.uid ?? uid_t.max, file.group ?? gid_t.max, AT_SYMLINK_NOFOLLOW) != 0
        {
            throw failed("chown", Errno.current)
        }
        if renameat(stagingFD, "s", folder.descriptor, name) != 0 {
            throw failed("cannot move the socket into place", Errno.current)
        }
        Descriptor.close(stagingFD)
        unlinkat(folder.descriptor, staging, AT_REMOVEDIR)
        let published = PublishedSocket(
            path: path, folder: folder, name: name, device: bound.st_dev, inode: bound.st_ino, lock: lock,
            lockName: lockName)
        return Listener(descriptor: fd, path: path, file: published)
    }

    /// The socket's and the lock's paths, for a signal handler to remove (it can call
    /// nothing but `unlink`): holding the lock, this process owns both names.
    public var files: (socket: String, lock: String) { (file.path, "\(folder.path)/\(lockName)") }

    /// Gives the path up without serving it: removes the lock file (still holding the
    /// lock, so nobody can have taken it) and closes what the claim holds.
    public func release() {
        unlinkat(folder.descriptor, lockName, 0)
        Descriptor.close(lock)
        Descriptor.close(folder.descriptor)
    }

    /// A new folder, mode 0700, beside the socket (so the rename stays in one file system).
    private func makeStagingFolder() throws(SocketFileError) -> String {
        var error = Errno(EEXIST)
        for _ in 0..<16 {
            let staging = ".\(name).\(String(UInt32.random(in: .min ... .max), radix: 16))"
            if mkdirat(folder.descriptor, staging, 0o700) == 0 { return staging }
            error = .current
            if error.code != EEXIST { break }
        }
        throw .cannotPrepare(file.path, reason: "cannot make a private folder in \(folder.path) to bind in: \(error)")
    }
}
