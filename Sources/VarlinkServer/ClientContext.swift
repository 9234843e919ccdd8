/// One client connection as the interfaces see it.
public struct ClientContext: Sendable {
    public var connection: ConnectionID
    public var peer: PeerCredentials

    public init(connection: ConnectionID, peer: PeerCredentials) {
        self.connection = connection
        self.peer = peer
    }
}
