import Synchronization
import VarlinkServer

/// Calls on their way to the monitor: those the server counts (`untaken`: read off their
/// sockets and not yet handed on or answered; any of them may need a pass), and calls
/// that need a pass, which the interface announces before it awaits the monitor and the
/// monitor counts in when they get there. A pass about to start waits (briefly) while any
/// are on their way, so calls that arrive together share one pass instead of each missing
/// the last.
public final class CallsOnTheirWay: Sendable {
    private let count = Atomic<Int>(0)
    private let untaken: UntakenMessages

    public init(untaken: UntakenMessages = UntakenMessages()) {
        self.untaken = untaken
    }

    /// A call will reach the monitor; the monitor method it calls counts it in.
    public func announce() {
        count.add(1, ordering: .relaxed)
    }

    /// A call reached the monitor. One nobody announced (a caller inside the service)
    /// leaves the count at zero.
    func arrived() {
        var current = count.load(ordering: .relaxed)
        while current > 0 {
            let (exchanged, original) = count.compareExchange(
                expected: current, desired: current - 1, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    var any: Bool { count.load(ordering: .relaxed) > 0 || untaken.any }
}
