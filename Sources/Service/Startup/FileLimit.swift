import DmabufSystem

/// The process's limit on open descriptors. Each connection takes one, and running out
/// is fatal, not just a refused connection: the Swift runtime's thread pool traps when it
/// cannot open a /proc file. So the soft limit is raised as far as needed and allowed,
/// and connections are capped below it.
enum FileLimit {
    /// Descriptors kept for everything but connections: the program and its maps, each
    /// event loop's epoll and wake-up descriptors, the runtime's /proc reads, the log.
    static var reserve: Int { 64 + 4 * max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// Raises the soft limit to fit `connections` plus the reserve, or as near as the hard
    /// limit allows; returns how many connections fit under it.
    static func fit(connections: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return connections }
        let wanted = rlim_t(connections + reserve)
        if limit.rlim_cur < wanted {
            limit.rlim_cur = min(wanted, limit.rlim_max)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 { getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) }
        }
        return min(connections, Int(clamping: limit.rlim_cur) - reserve)
    }
}
