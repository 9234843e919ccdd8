/// A bound, listening TCP socket, handed from the privileged start-up to the server that
/// adopts it (and then owns and closes it).
public struct TCPListener: Sendable {
    public let descriptor: Int32
    /// Where it listens, `HOST:PORT`, with the real port when port 0 was asked.
    public let address: String

    public init(descriptor: Int32, address: String) {
        self.descriptor = descriptor
        self.address = address
    }
}
