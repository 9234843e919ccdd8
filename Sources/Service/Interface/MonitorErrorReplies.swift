import DmabufProtocol

/// Each refusal of the monitor as the interface names it.
extension VarlinkError {
    init(_ error: MonitorError) {
        switch error {
        case .watch(.tooManyNames(let limit)): self = .tooManyNames(limit: limit)
        case .watch(.capacityExhausted(let capacity)): self = .capacityExhausted(capacity: capacity)
        case .pass(let error), .mapWrite(let error): self = .scanFailed(reason: error.description)
        case .attribution(let error): self = .attributionUnavailable(reason: error.description)
        case .alreadySubscribed: self = .alreadySubscribed()
        }
    }
}
