import DmabufSystem

/// The folder that holds the service's socket, opened once and checked. Every later step
/// works relative to this descriptor, and the check refuses a folder another user could
/// change: so no one else can swap a name in it for a symlink between two of our steps.
struct SocketFolder: Sendable {
    let path: String
    let descriptor: Int32
    /// Whether the service's user can remove the socket and its lock from here when it
    /// stops: the folder is its own, or sticky (where the files it owns are its to remove).
    let ownerRemovesEntries: Bool

    /// Opens `path` (created with mode 0755 when missing) and refuses it unless only a
    /// trusted owner can write it, or it is a sticky folder owned by root (like /tmp),
    /// where nobody can rename or remove what another user made. A folder that holds
    /// nothing but the socket `name`'s own files is given to `owner`.
    static func checked(
        _ path: String, socket: String, name: String, trusting owners: Set<uid_t>, handingTo owner: SocketOwner?
    ) throws(SocketFileError) -> SocketFolder {
        if let error = makeFolders(path) {
            throw .cannotPrepare(socket, reason: "cannot create \(path): \(error)")
        }
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotPrepare(socket, reason: "cannot open \(path): \(Errno.current)") }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let error = Errno.current
            Descriptor.close(descriptor)
            throw .cannotPrepare(socket, reason: "cannot stat \(path): \(error)")
        }
        if let danger = Self.danger(info, trusting: owners) {
            Descriptor.close(descriptor)
            throw .unsafeFolder(socket, folder: path, danger)
        }
        guard let owner else { return SocketFolder(path: path, descriptor: descriptor, ownerRemovesEntries: true) }
        let sticky = info.st_mode & S_ISVTX != 0
        var folderOwner = info.st_uid
        // Only trusted owners can add entries (checked above), so what is listed stays so.
        if folderOwner != owner.uid && !sticky && holdsOnlyFiles(of: name, descriptor) {
            guard fchown(descriptor, owner.uid, owner.gid) == 0 else {
                let error = Errno.current
                Descriptor.close(descriptor)
                throw .cannotPrepare(socket, reason: "cannot give \(path) to uid \(owner.uid): \(error)")
            }
            folderOwner = owner.uid
        }
        return SocketFolder(path: path, descriptor: descriptor, ownerRemovesEntries: sticky || folderOwner == owner.uid)
    }

    /// Whether the folder holds nothing but the socket `name`, its lock and its staging
    /// folders: a folder of the socket's own, not one that others' files share.
    private static func holdsOnlyFiles(of name: String, _ descriptor: Int32) -> Bool {
        let listing = dup(descriptor)
        guard listing >= 0, let folder = fdopendir(listing) else {
            if listing >= 0 { Descriptor.close(listing) }
            return false
        }
        defer { closedir(folder) }
        while let entry = readdir(folder) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let own = [".", "..", name, "\(name).lock"].contains(entryName) || entryName.hasPrefix(".\(name).")
            if !own { return false }
        }
        return true
    }

    /// Who besides a trusted owner could change the folder's entries; nil when nobody.
    private static func danger(_ info: stat, trusting owners: Set<uid_t>) -> String? {
        let mode = info.st_mode
        if mode & S_ISVTX != 0 && info.st_uid == 0 { return nil }
        if !owners.contains(info.st_uid) { return "it belongs to uid \(info.st_uid)" }
        if mode & S_IWOTH != 0 { return "every user can write it (mode \(String(mode & 0o7777, radix: 8)))" }
        if mode & S_IWGRP != 0 && info.st_gid != 0 {
            return "group \(info.st_gid) can write it (mode \(String(mode & 0o7777, radix: 8)))"
        }
        return nil
    }

    /// The entry `name` as it is, symlinks not followed; nil when there is none.
    func entry(_ name: String) throws(Errno) -> stat? {
        var info = stat()
        if fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 { return info }
        if errno == ENOENT { return nil }
        throw .current
    }

    /// `path` and its parents, made with mode 0755 where missing; the errno of the first that fails.
    private static func makeFolders(_ path: String) -> Errno? {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            partial += "/" + component
            if mkdir(partial, 0o755) != 0 && errno != EEXIST { return .current }
        }
        return nil
    }
}
