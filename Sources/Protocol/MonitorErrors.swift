// The errors of io.dmabufd.Monitor (InvalidMessage is in InvalidMessage.swift,
// beside the generic code that sends it).
extension VarlinkError {
    /// A name or prefix breaks the name rules; nothing of the call was applied.
    public static func invalidName(name: String, reason: String) -> VarlinkError {
        VarlinkError(
            name: MonitorInterface.ErrorName.invalidName,
            parameters: ["name": .string(name), "reason": .string(reason)])
    }

    /// The call would take this connection past its quota of names and prefixes.
    public static func tooManyNames(limit: Int) -> VarlinkError {
        VarlinkError(name: MonitorInterface.ErrorName.tooManyNames, parameters: ["limit": .integer(Int64(limit))])
    }

    /// The service's map has no room for the names of this call.
    public static func capacityExhausted(capacity: Int) -> VarlinkError {
        VarlinkError(
            name: MonitorInterface.ErrorName.capacityExhausted, parameters: ["capacity": .integer(Int64(capacity))])
    }

    /// The service is stopping; a stream ends with this.
    public static func shuttingDown() -> VarlinkError {
        VarlinkError(name: MonitorInterface.ErrorName.shuttingDown)
    }

    /// The kernel refused a pass or a map change; `reason` is what it answered.
    public static func scanFailed(reason: String) -> VarlinkError {
        VarlinkError(name: MonitorInterface.ErrorName.scanFailed, parameters: ["reason": .string(reason)])
    }

    /// Who holds the buffers cannot be told here; `reason` says why.
    public static func attributionUnavailable(reason: String) -> VarlinkError {
        VarlinkError(name: MonitorInterface.ErrorName.attributionUnavailable, parameters: ["reason": .string(reason)])
    }

    /// The connection already has a running subscription.
    public static func alreadySubscribed() -> VarlinkError {
        VarlinkError(name: MonitorInterface.ErrorName.alreadySubscribed)
    }

    /// The subscriber left replies unread for `timeoutMsec`; its connection is closed.
    public static func subscriberStalled(timeoutMsec: Int) -> VarlinkError {
        VarlinkError(
            name: MonitorInterface.ErrorName.subscriberStalled,
            parameters: ["timeout_msec": .integer(Int64(timeoutMsec))])
    }
}
