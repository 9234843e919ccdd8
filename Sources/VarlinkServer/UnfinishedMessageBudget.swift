import Synchronization

/// The bytes of unfinished messages buffered across every connection, against one limit:
/// each connection may buffer up to the message size, but not all of them at once, so
/// the sum of what clients leave half-sent cannot grow the service past its memory.
final class UnfinishedMessageBudget: Sendable {
    let limit: Int
    private let buffered = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Moves one connection's share from `old` to `new` bytes; false (and nothing moved)
    /// when growing it would pass the limit.
    func resize(from old: Int, to new: Int) -> Bool {
        let change = new - old
        guard change > 0 else {
            buffered.wrappingSubtract(-change, ordering: .relaxed)
            return true
        }
        var current = buffered.load(ordering: .relaxed)
        while true {
            guard current + change <= limit else { return false }
            let (exchanged, original) = buffered.compareExchange(
                expected: current, desired: current + change, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }
}
