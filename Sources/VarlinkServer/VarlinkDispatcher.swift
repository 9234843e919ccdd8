import DmabufProtocol

/// Routes each call to the interface it names and serves `org.varlink.service` itself.
/// No method served here upgrades the connection to another protocol: a call that asks
/// to (`"upgrade": true`) is refused with `InvalidParameter` naming `upgrade`, and the
/// connection goes on speaking Varlink.
public struct VarlinkDispatcher: Sendable {
    private let info: GetInfoReply
    private let interfaces: [String: any VarlinkInterfaceServer]

    public init(vendor: String, product: String, version: String, url: String, interfaces: [any VarlinkInterfaceServer]) {
        self.interfaces = Dictionary(uniqueKeysWithValues: interfaces.map { ($0.interfaceName, $0) })
        self.info = GetInfoReply(
            vendor: vendor, product: product, version: version, url: url,
            interfaces: [ServiceInterface.name] + interfaces.map(\.interfaceName))
    }

    public func dispatch(_ call: Call, from client: ClientContext) async -> Response {
        do throws(VarlinkError) {
            if call.upgrade { throw .invalidParameter("upgrade") }
            if call.interface == ServiceInterface.name { return .reply(try serveServiceInterface(call)) }
            guard let server = interfaces[call.interface] else { throw VarlinkError.interfaceNotFound(call.interface) }
            return try await server.serve(call, from: client)
        } catch {
            return .reply(Reply(error: error))
        }
    }

    public func connected(_ client: ClientContext) async {
        for server in interfaces.values { await server.clientConnected(client) }
    }

    public func disconnected(_ client: ClientContext) async {
        for server in interfaces.values { await server.clientDisconnected(client) }
    }

    private func serveServiceInterface(_ call: Call) throws(VarlinkError) -> Reply {
        switch call.member {
        case "GetInfo":
            _ = try NoParameters(parameters: call.parameters)
            return Reply(parameters: info.parameters)
        case "GetInterfaceDescription":
            let request = try GetInterfaceDescriptionParameters(parameters: call.parameters)
            let description: String
            if request.interface == ServiceInterface.name {
                description = ServiceInterface.description
            } else if let server = interfaces[request.interface] {
                description = server.interfaceDescription
            } else {
                throw .interfaceNotFound(request.interface)
            }
            return Reply(parameters: GetInterfaceDescriptionReply(description: description).parameters)
        default:
            throw .methodNotFound(call.method)
        }
    }
}
