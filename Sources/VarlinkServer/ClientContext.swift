/// One client connection as the interfaces see it.
public struct ClientContext: Sendable {
    public var connection: ConnectionID
    public var peer: PeerCredentials
    /// The server's count of calls on their way, when the server made this context.
    let backlog: ConnectionBacklog?

    public init(connection: ConnectionID, peer: PeerCredentials) {
        self.init(connection: connection, peer: peer, backlog: nil)
    }

    init(connection: ConnectionID, peer: PeerCredentials, backlog: ConnectionBacklog?) {
        self.connection = connection
        self.peer = peer
        self.backlog = backlog
    }

    /// The call being served has been handed to work that counts it itself from now on
    /// (dmabufd's monitor, which gathers the calls announced to it): until then, and from
    /// the moment its bytes were read, the server counts it in `UntakenMessages`.
    public func handedOn() {
        backlog?.handedOn()
    }
}
