import Glibc

/// The process's limit on open descriptors: each connection is one, and the usual soft
/// limit of 1,024 would turn clients away long before `--max-connections`.
enum FileLimit {
    /// Raises the soft limit to `wanted`, or as near as the hard limit allows.
    static func raise(toAtLeast wanted: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
        limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
