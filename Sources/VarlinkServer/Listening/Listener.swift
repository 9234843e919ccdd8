/// The socket a service accepts connections on: its descriptor, where it is, and its
/// file when the service made it (and so removes it when it stops).
public struct Listener: Sendable {
    public let descriptor: Int32
    public let path: String
    /// nil for a socket a service manager handed over: its file is the manager's.
    public let file: PublishedSocket?

    public init(descriptor: Int32, path: String, file: PublishedSocket?) {
        self.descriptor = descriptor
        self.path = path
        self.file = file
    }
}
