import DmabufScanner

/// How one client names processes. A client in the service's pid namespace gets the pids
/// the service sees; a client in a pid namespace of its own (a container without the
/// host's) gets its own numbers for the processes of its namespace and 0 for every
/// other: it never sees a host pid.
struct PidView: Sendable {
    /// The client's pid namespace, when it is not the service's.
    private let foreign: UInt64?

    /// - Parameters:
    ///   - client: the client's pid namespace (nil: the kernel did not tell; taken as the
    ///     service's, the namespace SO_PEERCRED's pid is in).
    ///   - service: the service's own.
    init(client: UInt64?, service: UInt64?) {
        foreign = client != nil && client != service ? client : nil
    }

    func pid(_ pid: UInt32, namespaced: UInt32, in namespace: UInt64) -> Int {
        guard let foreign else { return Int(pid) }
        return namespace == foreign ? Int(namespaced) : 0
    }

    func pid(of holding: Attribution.Holding) -> Int {
        pid(holding.pid, namespaced: holding.namespacedPID, in: holding.pidNamespace)
    }

    func pid(of record: HolderRecord) -> Int {
        pid(record.pid, namespaced: record.namespacedPID, in: record.pidNamespace)
    }
}
