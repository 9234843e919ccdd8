/// Who is on the other end of a connection, as the kernel vouches for it (`SO_PEERCRED`,
/// taken when the peer connected).
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }

    public var description: String { "uid=\(uid) gid=\(gid) pid=\(pid)" }
}

/// One client connection as the interfaces see it.
public struct ClientContext: Sendable {
    public var connection: ConnectionID
    public var peer: PeerCredentials

    public init(connection: ConnectionID, peer: PeerCredentials) {
        self.connection = connection
        self.peer = peer
    }
}
