import DmabufSystem
import NIOCore

/// Who is on the other end of a connection, as the kernel vouches for it (`SO_PEERCRED`,
/// taken when the peer connected).
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    public var uid: UInt32
    public var gid: UInt32
    /// 0 when the peer is in a pid namespace the service cannot see.
    public var pid: Int32
    /// The peer's cgroup v2 id when it connected, from its pidfd (`SO_PEERPIDFD`, Linux 6.5,
    /// and `PIDFD_GET_INFO`, 6.13): in any pid namespace. nil where the kernel cannot tell.
    public var cgroupID: UInt64?

    public init(uid: UInt32, gid: UInt32, pid: Int32, cgroupID: UInt64? = nil) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.cgroupID = cgroupID
    }

    public var description: String {
        "uid=\(uid) gid=\(gid) pid=\(pid)" + (cgroupID.map { " cgroup=\($0)" } ?? "")
    }

    /// Reads `SO_PEERCRED` on a freshly accepted Unix socket.
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let level = SocketOptionLevel(SOL_SOCKET)
        return provider.unsafeGetSocketOption(level: level, name: SocketOptionName(SO_PEERCRED))
            .flatMap { (credentials: KernelPeerCredentials) in
                provider.unsafeGetSocketOption(level: level, name: peerPidfd).map { (pidfd: Int32) -> UInt64? in
                    defer { Descriptor.close(pidfd) }
                    return try? PidfdInfo.cgroupID(of: pidfd)
                }
                .recover { _ in nil }
                .map { cgroupID in
                    PeerCredentials(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid, cgroupID: cgroupID)
                }
            }
    }
}

/// SO_PEERPIDFD (Linux 6.5): a pidfd of the peer, as it was when it connected.
private let peerPidfd = SocketOptionName(77)

/// The kernel's `struct ucred` (pid_t, uid_t, gid_t), which Glibc's Swift module does not
/// export without _GNU_SOURCE.
private struct KernelPeerCredentials {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}
