import DmabufSystem
import NIOCore

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

    /// Reads `SO_PEERCRED` on a freshly accepted Unix socket.
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .map { (credentials: KernelPeerCredentials) in
                PeerCredentials(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid)
            }
    }
}

/// The kernel's `struct ucred` (pid_t, uid_t, gid_t), which Glibc's Swift module does not
/// export without _GNU_SOURCE.
private struct KernelPeerCredentials {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}
