import DmabufSystem

/// The socket file this process bound and moved into place: what `remove` may delete.
public struct PublishedSocket: Sendable {
    public let path: String
    let folder: SocketFolder
    let name: String
    let device: dev_t
    let inode: ino_t
    /// The claim's lock, released when the process exits (after `remove`).
    let lock: Int32
    let lockName: String

    /// Removes the socket file if it is still the one this process bound (a file put in
    /// its place since then, by an operator or another server, is left alone), then the
    /// lock file, while still holding the lock.
    public func remove() {
        if let current = try? folder.entry(name), current.st_dev == device, current.st_ino == inode {
            unlinkat(folder.descriptor, name, 0)
        }
        unlinkat(folder.descriptor, lockName, 0)
    }
}
