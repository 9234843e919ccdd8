import Synchronization

/// Spaces out the passes each uid asks for: a call that needs a pass waits until
/// `spacing` after the previous one of its uid, so one user looping Scan cannot keep the
/// pass thread busy for everyone. Calls of one uid wait in the order they came.
final class PassThrottle: Sendable {
    private let next = Mutex<[UInt32: ContinuousClock.Instant]>([:])

    /// Returns once `uid` may have its next pass.
    func wait(for uid: UInt32, spacing: Duration) async {
        let now = ContinuousClock.now
        let slot = next.withLock { next in
            let slot = max(now, next[uid] ?? now)
            next[uid] = slot + spacing
            // Uids whose slots are all in the past wait for nothing: forget them.
            if next.count > 1024 { next = next.filter { $0.value > now } }
            return slot
        }
        if slot > now { try? await Task.sleep(until: slot) }
    }
}
