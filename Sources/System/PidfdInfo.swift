/// What the kernel tells of a process through a pidfd (`PIDFD_GET_INFO`, Linux 6.13;
/// include/uapi/linux/pidfd.h), whatever pid namespace the process is in.
public enum PidfdInfo {
    /// struct pidfd_info, its first version (PIDFD_INFO_SIZE_VER0, 64 bytes).
    private struct Info {
        var mask: UInt64 = 0
        var cgroupID: UInt64 = 0
        var ids: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    private static let infoCgroupID: UInt64 = 1 << 2
    /// _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info)
    private static let getInfo = UInt(3 << 30 | 64 << 16 | 0xFF << 8 | 11)

    /// The cgroup v2 id of the process behind `pidfd`: on cgroup2, the inode number of its
    /// cgroup's directory. ENOTTY on kernels before 6.13, ESRCH once it has exited.
    public static func cgroupID(of pidfd: Int32) throws(Errno) -> UInt64 {
        precondition(MemoryLayout<Info>.size == 64, "struct pidfd_info is 64 bytes")
        var info = Info()
        info.mask = infoCgroupID
        guard ioctl(pidfd, getInfo, &info) == 0 else { throw .current }
        guard info.mask & infoCgroupID != 0 else { throw Errno(EOPNOTSUPP) }
        return info.cgroupID
    }

    /// The inode number of this process's own pid namespace.
    public static func ownPidNamespace() -> UInt64? {
        var status = stat()
        return stat("/proc/self/ns/pid", &status) == 0 ? UInt64(status.st_ino) : nil
    }
}
