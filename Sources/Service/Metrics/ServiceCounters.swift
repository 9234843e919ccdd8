import DmabufProtocol
import Synchronization
import VarlinkServer

/// Counts what the service refused and what errors it answered, for the metrics: the
/// Varlink server tells it of every reply and refused connection, the Monitor interface
/// of every call its policy refused.
///
/// Every connection's task adds to it, so the counts sit behind a lock; they only grow.
public final class ServiceCounters: VarlinkServerObserver {
    public struct Snapshot: Sendable, Equatable {
        public var denials: [Denial: Int]
        /// Error replies sent, by qualified error name.
        public var errors: [String: Int]
    }

    /// The errors io.dmabufd.Monitor and org.varlink.service can answer, reported from the
    /// start (at 0) so that a rate over them is defined before the first one happens.
    public static let knownErrors = [
        MonitorInterface.ErrorName.invalidName, MonitorInterface.ErrorName.tooManyNames,
        MonitorInterface.ErrorName.capacityExhausted, MonitorInterface.ErrorName.shuttingDown,
        MonitorInterface.ErrorName.scanFailed, MonitorInterface.ErrorName.attributionUnavailable,
        MonitorInterface.ErrorName.alreadySubscribed,
        MonitorInterface.ErrorName.subscriberStalled, MonitorInterface.ErrorName.invalidMessage,
        ServiceInterface.ErrorName.interfaceNotFound, ServiceInterface.ErrorName.methodNotFound,
        ServiceInterface.ErrorName.methodNotImplemented, ServiceInterface.ErrorName.invalidParameter,
        ServiceInterface.ErrorName.permissionDenied, ServiceInterface.ErrorName.expectedMore,
    ]

    private let counts = Mutex(
        Snapshot(
            denials: Dictionary(uniqueKeysWithValues: Denial.allCases.map { ($0, 0) }),
            errors: Dictionary(uniqueKeysWithValues: knownErrors.map { ($0, 0) })))

    public init() {}

    public func denied(_ denial: Denial) {
        counts.withLock { $0.denials[denial, default: 0] += 1 }
    }

    public func turnedAway(_ limit: ConnectionLimit) {
        denied(Denial(limit))
    }

    /// Notes a reply on its way to a client; only error replies count.
    public func sending(_ reply: Reply) {
        guard let error = reply.error else { return }
        counts.withLock { $0.errors[error, default: 0] += 1 }
    }

    public var snapshot: Snapshot { counts.withLock { $0 } }
}
