import DmabufSystem

/// The user the service runs as once it has loaded (`--user`), when that is not who
/// claims the socket: it must be able to remove the socket and its lock when it stops,
/// so they are made its own, and so is the socket's folder when that holds nothing else.
public struct SocketOwner: Sendable, Equatable {
    public let uid: uid_t
    public let gid: gid_t

    public init(uid: uid_t, gid: gid_t) {
        self.uid = uid
        self.gid = gid
    }
}
