import CLibbpf

/// One hold of one DMA-BUF by one process, as the task iterators saw it.
public struct HolderRecord: Sendable, Equatable {
    public enum Hold: Sendable, Equatable {
        /// An open file descriptor with this number.
        case fd(UInt32)
        /// A mapping that starts at this address (its fd may be closed).
        case mapping(UInt64)
        /// No hold: the walk identifying a client that asked (see `HolderWalk`).
        case identity(HolderWalk.Namespaced)
    }

    /// The buffer's inode number: what joins this record with the DMA-BUF pass.
    public var inode: UInt64
    public var size: UInt64
    /// The process (thread group) id, in the service's pid namespace.
    public var pid: UInt32
    /// Its id in its own innermost pid namespace, and that namespace's inode number: what
    /// a client in that namespace calls it.
    public var namespacedPID: UInt32
    public var pidNamespace: UInt64
    /// Its effective uid.
    public var uid: UInt32
    /// Its cgroup v2 id: on cgroup2 the inode number of the cgroup's directory.
    public var cgroupID: UInt64
    /// Its command name (comm), at most 15 bytes.
    public var command: String
    public var hold: Hold

    public init(
        inode: UInt64, size: UInt64, pid: UInt32, uid: UInt32, cgroupID: UInt64, command: String, hold: Hold,
        namespacedPID: UInt32? = nil, pidNamespace: UInt64 = 0
    ) {
        self.inode = inode
        self.size = size
        self.pid = pid
        self.namespacedPID = namespacedPID ?? pid
        self.pidNamespace = pidNamespace
        self.uid = uid
        self.cgroupID = cgroupID
        self.command = command
        self.hold = hold
    }
}

extension HolderRecord {
    /// Copies a record the iterators wrote; the command stops at its first NUL.
    init(_ raw: dmabufd_holder_record) {
        self.init(
            inode: raw.inode, size: raw.size, pid: raw.tgid, uid: raw.uid, cgroupID: raw.cgroup_id,
            command: withUnsafeBytes(of: raw.comm) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) },
            hold: Self.hold(raw), namespacedPID: raw.ns_pid, pidNamespace: raw.pid_ns)
    }

    private static func hold(_ raw: dmabufd_holder_record) -> Hold {
        switch raw.hold {
        case UInt32(DMABUFD_HOLD_MAPPING.rawValue): .mapping(raw.where)
        case UInt32(DMABUFD_IDENTITY.rawValue): .identity(HolderWalk.Namespaced(pid: raw.ns_pid, namespace: raw.pid_ns))
        default: .fd(UInt32(truncatingIfNeeded: raw.where))
        }
    }
}
