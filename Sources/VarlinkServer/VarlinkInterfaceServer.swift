import DmabufProtocol

/// One Varlink interface this process serves. Plugging in another interface means
/// writing one more of these; the dispatcher and the server do not change.
public protocol VarlinkInterfaceServer: Sendable {
    var interfaceName: String { get }
    /// The interface text, served verbatim by `GetInterfaceDescription`.
    var interfaceDescription: String { get }
    func serve(_ call: Call, from client: ClientContext) async throws(VarlinkError) -> Response
    func clientConnected(_ client: ClientContext) async
    func clientDisconnected(_ client: ClientContext) async
}

extension VarlinkInterfaceServer {
    public func clientConnected(_ client: ClientContext) async {}
    public func clientDisconnected(_ client: ClientContext) async {}
}
