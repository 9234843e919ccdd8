import CLinux
import ServiceLifecycle

/// Gives memory the service freed back to the kernel, every `period`. glibc keeps freed
/// memory in its arenas for the next allocation, so after a burst (thousands of clients
/// each leaving a message half-sent) the resident size would stay at its peak for good;
/// a trim costs well under a millisecond on an idle heap.
struct MemoryTrimmer: Service {
    let period: Duration

    func run() async throws {
        // A stop ends the sleep at once instead of waiting out the period.
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: period)
                _ = CLinux_malloc_trim()
            }
        }
    }
}
