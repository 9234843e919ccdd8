import CLibbpf
import DmabufSystem

/// Facts about the running kernel and process that decide whether the
/// program can load, checked before loading so the error says what is wrong
/// (a failed load on its own only says EACCES with a page of verifier log).
public enum KernelProbe {
    /// Capability bits (linux/capability.h). Loading needs CAP_BPF, and
    /// CAP_PERFMON for reading kernel memory (without it the verifier refuses
    /// "pointer arithmetic ... for !root"); the kernel accepts CAP_SYS_ADMIN
    /// in place of either (bpf_capable(), perfmon_capable()).
    static let sysAdminBit: UInt64 = 1 << 21
    static let perfmonBit: UInt64 = 1 << 38
    static let bpfBit: UInt64 = 1 << 39

    /// The kernel release, as `uname -r` prints it.
    public static func release() -> String {
        var names = utsname()
        guard uname(&names) == 0 else { return "unknown" }
        return withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Whether the kernel's BTF declares the `bpf_iter_dmabuf_new` kfunc (Linux 6.16+).
    public static func hasDmabufIterator() throws(ScannerError) -> Bool {
        LibbpfLog.install()
        guard let btf = btf__load_vmlinux_btf() else { throw .noKernelBTF }
        defer { btf__free(btf) }
        return btf__find_by_name_kind(btf, "bpf_iter_dmabuf_new", CLibbpf_btf_kind_func()) > 0
    }

    /// Whether the kernel's BTF has the task iterators' contexts (`iter/task_file`, Linux
    /// 5.8; `iter/task_vma`, 5.12), which tell who holds each buffer.
    public static func hasTaskIterators() -> Bool {
        LibbpfLog.install()
        guard let btf = btf__load_vmlinux_btf() else { return false }
        defer { btf__free(btf) }
        return ["bpf_iter__task_file", "bpf_iter__task_vma"].allSatisfy { (name: String) in
            btf__find_by_name_kind(btf, name, CLibbpf_btf_kind_struct()) > 0
        }
    }

    /// The active kernel lockdown mode ("none", "integrity", "confidentiality"),
    /// or nil when securityfs does not say.
    public static func lockdownMode() -> String? {
        readTextFile("/sys/kernel/security/lockdown").flatMap(activeLockdownMode(in:))
    }

    /// Whether this process's effective capabilities let it load and run the
    /// program: CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN.
    public static func hasBPFPrivileges() -> Bool {
        guard let status = readTextFile("/proc/self/status"),
            let caps = effectiveCapabilities(inStatus: status)
        else { return false }
        return allowsBPF(effectiveCapabilities: caps)
    }

    static func allowsBPF(effectiveCapabilities caps: UInt64) -> Bool {
        let sysAdmin = caps & sysAdminBit != 0
        return (sysAdmin || caps & bpfBit != 0) && (sysAdmin || caps & perfmonBit != 0)
    }

    /// Why the program cannot load in this process, as start-up would say it; nil when it can.
    public static func loadProblem() -> ScannerError? {
        do {
            try requireLoadable()
            return nil
        } catch {
            return error
        }
    }

    /// Every check that can fail before loading, kernel facts first, then privileges.
    public static func requireLoadable() throws(ScannerError) {
        guard try hasDmabufIterator() else { throw .iteratorMissing(kernelRelease: release()) }
        // Only confidentiality mode refuses reading kernel memory; integrity allows it.
        if let mode = lockdownMode(), mode == "confidentiality" { throw .lockdown(mode: mode) }
        guard hasBPFPrivileges() else { throw .missingPrivileges }
    }

    /// The bracketed word of /sys/kernel/security/lockdown, e.g. "[none] integrity confidentiality".
    static func activeLockdownMode(in text: String) -> String? {
        for word in text.split(whereSeparator: \.isWhitespace) where word.hasPrefix("[") && word.hasSuffix("]") {
            return String(word.dropFirst().dropLast())
        }
        return nil
    }

    /// The CapEff bit mask of a /proc/PID/status text.
    static func effectiveCapabilities(inStatus text: String) -> UInt64? {
        for line in text.split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst("CapEff:".count).filter { !$0.isWhitespace }, radix: 16)
        }
        return nil
    }
}
