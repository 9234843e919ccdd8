import DmabufProtocol

/// Where each certification client is in the sequence, by `client_id`: the one owner of
/// that state, whichever connection a call comes on.
actor CertificationSessions {
    typealias Method = CertificationInterface.Method

    /// Clients that started and did not end are forgotten, oldest first, beyond this many:
    /// a client that never calls End must not cost the service memory for ever.
    static let capacity = 1_000

    /// The method each client must call next.
    private var due: [String: Method] = [:]
    /// The clients in `due`, oldest first.
    private var started: [String] = []

    /// A new client, due to call Test01.
    func start() -> String {
        if due.count >= Self.capacity { forget(started[0]) }
        var random = SystemRandomNumberGenerator()
        let clientID = (0..<4).map { _ in hex(random.next() as UInt32) }.joined()
        due[clientID] = .test01
        started.append(clientID)
        return clientID
    }

    /// Takes `method` as the call `clientID` makes now: `ClientIdError` for a client that
    /// is not in the sequence, `CertificationError` (which ends its sequence) when another
    /// method is due. End ends the sequence.
    func take(_ method: Method, from clientID: String) throws(VarlinkError) {
        guard let expected = due[clientID] else { throw .clientIdError() }
        guard method == expected else {
            forget(clientID)
            throw .certificationError(
                wants: ["method": .string(expected.qualifiedName)], got: ["method": .string(method.qualifiedName)])
        }
        if let next = method.next {
            due[clientID] = next
        } else {
            forget(clientID)
        }
    }

    /// Ends a client's sequence: it must Start again.
    func forget(_ clientID: String) {
        guard due.removeValue(forKey: clientID) != nil else { return }
        started.removeAll { $0 == clientID }
    }
}

/// Eight lowercase hex digits.
private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 8 - digits.count) + digits
}
