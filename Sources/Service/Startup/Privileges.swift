import CLinux
import DmabufSystem

/// Gives up every capability once the program is loaded and the socket bound, becomes the
/// service's own user, and sets no_new_privs.
///
/// Running a loaded program (`BPF_PROG_TEST_RUN`), updating and walking its maps and
/// reading its mmapped memory and ring buffer need no capability: the kernel checked
/// them when the program and maps were created, and the descriptors carry that. What is
/// left needs none either: accepting on a bound socket, and removing its file, which
/// the service's user owns. So nothing is kept, which the tests check on the real kernel
/// (every tier runs the service after this). Without capabilities uid 0 still owns every
/// root-owned file (and /proc/sys): hence a user of its own.
///
/// Capabilities and no_new_privs belong to each thread, and a thread made later copies
/// its creator's. So this runs while the process has one thread, and refuses otherwise.
public enum Privileges {
    /// Drops every capability from the bounding, ambient, inheritable, permitted and
    /// effective sets, switches to `user` (no supplementary groups), then sets
    /// no_new_privs. Returns who the process is now and what it kept, for the log.
    static func dropAll(becoming user: ServiceUser?) throws(StartupError) -> String {
        let threads = threadCount()
        guard threads == 1 else {
            throw StartupError(.other, "\(threads) threads run already; capabilities can be dropped only with one")
        }
        // The bounding set first: dropping from it needs CAP_SETPCAP, which goes below.
        for capability in 0...lastCapability() where prctlFails(PR_CAPBSET_DROP, UInt(capability)) {
            // EINVAL: a capability this kernel does not know; nothing to drop.
            guard errno == EINVAL else { throw failure("PR_CAPBSET_DROP \(capability)") }
        }
        if let user { try become(user) }
        if prctlFails(PR_CAP_AMBIENT, UInt(PR_CAP_AMBIENT_CLEAR_ALL)) { throw failure("PR_CAP_AMBIENT_CLEAR_ALL") }
        if CLinux_capset(0, 0, 0) != 0 { throw failure("capset") }
        if prctlFails(PR_SET_NO_NEW_PRIVS, 1) { throw failure("PR_SET_NO_NEW_PRIVS") }
        let now = user.map { "runs as user \($0)" } ?? "runs as uid \(getuid())"
        return "\(now), dropped every capability and set no_new_privs; kept: none"
    }

    /// Switching from uid 0 clears the permitted and effective sets too; a process that
    /// a service manager started as the user already (systemd's User=) has nothing to do.
    private static func become(_ user: ServiceUser) throws(StartupError) {
        if getuid() == user.uid && geteuid() == user.uid && getgid() == user.gid && getegid() == user.gid { return }
        func refused(_ call: String) -> StartupError {
            StartupError(
                .noPermission,
                "cannot become user \(user): \(call): \(Errno.current); start dmabufd as root or as that user")
        }
        if setgroups(0, nil) != 0 { throw refused("setgroups") }
        if CLinux_setresgid(user.gid) != 0 { throw refused("setresgid") }
        if CLinux_setresuid(user.uid) != 0 { throw refused("setresuid") }
    }

    private static func prctlFails(_ option: Int32, _ argument: UInt) -> Bool {
        CLinux_prctl(option, argument) != 0
    }

    private static func failure(_ call: String) -> StartupError {
        StartupError(.other, "cannot drop privileges: \(call): \(Errno.current)")
    }

    /// The highest capability number this kernel knows (`CAP_LAST_CAP`).
    private static func lastCapability() -> Int {
        readTextFile("/proc/sys/kernel/cap_last_cap").flatMap { Int($0.filter { !$0.isWhitespace }) } ?? 63
    }

    private static func threadCount() -> Int {
        guard let task = opendir("/proc/self/task") else { return 0 }
        defer { closedir(task) }
        var count = 0
        while let entry = readdir(task) {
            if UInt8(bitPattern: entry.pointee.d_name.0) != UInt8(ascii: ".") { count += 1 }
        }
        return count
    }
}
