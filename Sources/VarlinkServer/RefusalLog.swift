import Logging
import Synchronization

/// Log lines about refusals (a denied call, a turned-away connection), at most `burst`
/// per uid in each `window`. The rest are counted and summed up in one line when the
/// window ends, so a client that sends refused calls as fast as it can fills neither the
/// disk nor the journal's rate limit, which would hide everyone else's lines.
public final class RefusalLog: Sendable {
    private struct Window {
        var start: ContinuousClock.Instant
        var logged = 0
        var suppressed = 0
    }

    private let logger: Logger
    private let burst: Int
    private let window: Duration
    private let windows = Mutex<[UInt32: Window]>([:])

    public init(logger: Logger, burst: Int = 5, window: Duration = .seconds(10)) {
        self.logger = logger
        self.burst = burst
        self.window = window
    }

    /// Logs `message` at notice level, unless `uid` has had `burst` lines in this window.
    public func notice(_ message: @autoclosure () -> String, uid: UInt32) {
        let now = ContinuousClock.now
        let (log, summary, flushAt) = windows.withLock { windows in
            var summary: String?
            var current = windows[uid] ?? Window(start: now)
            if now - current.start >= window {
                summary = self.summary(of: current, uid: uid)
                current = Window(start: now)
            }
            var flushAt: ContinuousClock.Instant?
            if current.logged < burst {
                current.logged += 1
            } else {
                current.suppressed += 1
                if current.suppressed == 1 { flushAt = current.start + window }
            }
            windows[uid] = current
            return (current.suppressed == 0, summary, flushAt)
        }
        if let summary { logger.notice("\(summary)") }
        if log { logger.notice("\(message())") }
        if let flushAt {
            Task { [self] in
                try? await Task.sleep(until: flushAt)
                flush(uid, windowEndingAt: flushAt)
            }
        }
    }

    /// Writes the summary of `uid`'s window that ends at `end`, unless a later refusal
    /// already did and started another.
    private func flush(_ uid: UInt32, windowEndingAt end: ContinuousClock.Instant) {
        let summary = windows.withLock { windows -> String? in
            guard let current = windows[uid], current.start + window == end else { return nil }
            windows[uid] = nil
            return self.summary(of: current, uid: uid)
        }
        if let summary { logger.notice("\(summary)") }
    }

    private func summary(of window: Window, uid: UInt32) -> String? {
        guard window.suppressed > 0 else { return nil }
        let seconds = Int(self.window / .seconds(1))
        return "… and \(window.suppressed) more refusals of uid \(uid) in the last \(seconds) s, not logged one by one"
    }
}
