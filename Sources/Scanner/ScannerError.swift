/// Why the BPF side cannot start or could not finish something; each
/// description is one line that tells the operator what to do.
public enum ScannerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The running kernel's BTF has no `bpf_iter_dmabuf_new` kfunc.
    case iteratorMissing(kernelRelease: String)
    /// `/sys/kernel/btf/vmlinux` is missing or unreadable: CO-RE and kfuncs need it.
    case noKernelBTF
    /// Kernel lockdown in this mode refuses BPF programs that read kernel memory.
    case lockdown(mode: String)
    /// CAP_BPF and CAP_PERFMON are not both effective, or the kernel said EPERM.
    case missingPrivileges
    /// A bad `capacity` or `ringBytes` given to `DmabufProgram.init`.
    case invalidConfiguration(String)
    /// Opening or loading the object failed; carries the verifier's last meaningful line when there is one.
    case loadFailed(String)
    /// Running the program, or reading its results, failed.
    case passFailed(String)
    /// Buffers were created or freed between the windows of every attempt at a listing
    /// larger than the ring buffer.
    case listingUnsettled(attempts: Int, windows: Int)
    /// Every watch slot is in use.
    case capacityExhausted(capacity: Int)
    /// Writing the watched-names map failed.
    case mapUpdateFailed(String)
    /// Who holds the buffers cannot be told here; the reason says why.
    case attributionUnavailable(String)

    public var description: String {
        switch self {
        case .iteratorMissing(let release):
            "kernel \(release) has no DMA-BUF iterator (bpf_iter_dmabuf_new); dmabufd needs Linux 6.16 or newer"
        case .noKernelBTF:
            "kernel has no BTF type information (/sys/kernel/btf/vmlinux); "
                + "dmabufd needs a kernel built with CONFIG_DEBUG_INFO_BTF=y"
        case .lockdown(let mode):
            "kernel lockdown (\(mode)) refuses BPF programs that read kernel memory (see /sys/kernel/security/lockdown)"
        case .missingPrivileges:
            "loading the BPF program needs CAP_BPF and CAP_PERFMON (run dmabufd as root)"
        case .invalidConfiguration(let reason):
            "invalid BPF configuration: \(reason)"
        case .loadFailed(let reason):
            "cannot load the BPF program: \(reason)"
        case .passFailed(let reason):
            "BPF pass failed: \(reason)"
        case .listingUnsettled(let attempts, let windows):
            "buffers were created or freed during each of \(attempts) attempts to list them (\(windows) ring buffer "
                + "windows in all); try again, or raise --ring-bytes so that a listing fits in one window"
        case .capacityExhausted(let capacity):
            "all \(capacity) watch slots are in use (raise --capacity)"
        case .mapUpdateFailed(let reason):
            "cannot update the watched-names map: \(reason)"
        case .attributionUnavailable(let reason):
            "who holds the buffers cannot be told here: \(reason)"
        }
    }
}
