import DmabufSystem
import VarlinkServer

/// The user dmabufd becomes once its program is loaded (`--user`): a uid of its own, so
/// that what it can still reach after dropping every capability is only what that user
/// can (not root's files, not /proc/sys).
struct ServiceUser: Sendable, Equatable, CustomStringConvertible {
    /// The name `--user` defaults to; `make install` creates it as a system user.
    static let defaultName = "dmabufd"

    let name: String?
    let uid: uid_t
    let gid: gid_t

    var description: String {
        let named = name.map { "\($0) " } ?? ""
        return "\(named)(uid \(uid), gid \(gid))"
    }

    var socketOwner: SocketOwner { SocketOwner(uid: uid, gid: gid) }

    /// Whom `--user` names: a user, or nil for uid 0 kept, with the line to log about it.
    /// `option` nil is the default: `dmabufd` when this system has that user, else uid 0.
    static func resolve(_ option: String?) throws(ServiceUserError) -> (user: ServiceUser?, notice: String?) {
        guard let option else {
            if let user = lookUp(name: defaultName) { return (user, nil) }
            return (nil, "there is no user \(defaultName) on this system, so dmabufd keeps uid 0 (with no capability); "
                + "make install creates it, or pass --user")
        }
        if option == "root" || option == "0" || option == "0:0" {
            return (nil, "--user \(option): dmabufd keeps uid 0 (with no capability)")
        }
        if let numeric = try numeric(option) { return (numeric, nil) }
        guard let user = lookUp(name: option) else { throw .noSuchUser(option) }
        return (user, nil)
    }

    /// `UID` or `UID:GID`; a GID left out is the uid's group in the user database, else the uid.
    private static func numeric(_ option: String) throws(ServiceUserError) -> ServiceUser? {
        let parts = option.split(separator: ":", omittingEmptySubsequences: false)
        guard let uid = uid_t(parts[0]) else { return nil }
        guard parts.count <= 2 else { throw .malformed(option) }
        if parts.count == 2 {
            guard let gid = gid_t(parts[1]) else { throw .malformed(option) }
            return ServiceUser(name: nil, uid: uid, gid: gid)
        }
        guard let entry = getpwuid(uid) else { return ServiceUser(name: nil, uid: uid, gid: uid) }
        return ServiceUser(name: String(cString: entry.pointee.pw_name), uid: uid, gid: entry.pointee.pw_gid)
    }

    private static func lookUp(name: String) -> ServiceUser? {
        guard let entry = getpwnam(name) else { return nil }
        return ServiceUser(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }
}

enum ServiceUserError: Error, CustomStringConvertible {
    case noSuchUser(String)
    case malformed(String)

    var description: String {
        switch self {
        case .noSuchUser(let name): "--user: there is no user named \(name) (a name, UID or UID:GID; root keeps uid 0)"
        case .malformed(let text): "--user: \(text) is neither a user name, UID nor UID:GID"
        }
    }
}
