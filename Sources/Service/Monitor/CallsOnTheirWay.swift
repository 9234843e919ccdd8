import Synchronization

/// Calls that need a pass, read off their sockets and on their way to the monitor: the
/// interface announces each before it awaits the monitor, and the monitor counts it in
/// when it gets there. A pass about to start waits (briefly) while any are on their way,
/// so calls that arrive together share one pass instead of each missing the last.
public final class CallsOnTheirWay: Sendable {
    private let count = Atomic<Int>(0)

    public init() {}

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

    var any: Bool { count.load(ordering: .relaxed) > 0 }
}
