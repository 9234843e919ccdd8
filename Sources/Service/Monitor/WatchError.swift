/// Why a watch change was refused; nothing of the call was applied.
public enum WatchError: Error, Equatable, Sendable {
    /// The caller's uid would hold more names and prefixes than its quota.
    case tooManyNames(limit: Int)
    /// The kernel maps would hold more names and prefixes than their capacity (for a uid
    /// outside the reserve: than the share the reserve leaves).
    case capacityExhausted(capacity: Int)
}
