import DmabufSystem

/// The two clocks a pass is measured with.
enum Clock {
    static func realtimeMicroseconds() -> Int64 {
        let t = now(CLOCK_REALTIME)
        return Int64(t.tv_sec) * 1_000_000 + Int64(t.tv_nsec) / 1000
    }

    static func monotonicNanoseconds() -> Int64 {
        let t = now(CLOCK_MONOTONIC)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    private static func now(_ clock: clockid_t) -> timespec {
        var t = timespec()
        clock_gettime(clock, &t)
        return t
    }
}
