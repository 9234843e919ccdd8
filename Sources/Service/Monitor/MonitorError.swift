import DmabufScanner

/// Why the monitor could not serve a request.
public enum MonitorError: Error, Sendable, Equatable {
    /// The watch change was refused; nothing of it was applied.
    case watch(WatchError)
    /// The kernel refused the pass, or its results could not be read.
    case pass(ScannerError)
    /// The kernel refused a map write; the change was rolled back.
    case mapWrite(ScannerError)
    /// The holders could not be walked (no task iterators, or the walk failed).
    case attribution(ScannerError)
    /// The connection's subscription is still running.
    case alreadySubscribed

    /// A refused map insert: a full map is the capacity the caller hit, anything else the
    /// kernel's refusal.
    init(inserting error: ScannerError) {
        if case .capacityExhausted(let capacity) = error {
            self = .watch(.capacityExhausted(capacity: capacity))
        } else {
            self = .mapWrite(error)
        }
    }
}
