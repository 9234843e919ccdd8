/// Why a watch change was refused; nothing of the call was applied.
public enum WatchError: Error, Equatable, Sendable {
    /// The connection would hold more names and prefixes than its quota.
    case tooManyNames(limit: Int)
    /// The kernel maps would hold more names and prefixes than their capacity.
    case capacityExhausted(capacity: Int)
}
