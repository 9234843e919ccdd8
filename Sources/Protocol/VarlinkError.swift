/// An error reply: a qualified error name and its parameters, e.g.
/// `org.varlink.service.InvalidParameter` with `{"parameter": "names"}`.
///
/// The service throws these from its handlers and sends them as replies
/// (`Reply(error:)`); the client gets them back from `Reply.varlinkError`.
public struct VarlinkError: Error, Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var parameters: [String: JSON]

    public init(name: String, parameters: [String: JSON] = [:]) {
        self.name = name
        self.parameters = parameters
    }

    /// The interface the error belongs to: the name up to its last dot.
    public var interface: String { VarlinkNames.interface(of: name) }

    /// `org.varlink.service.InvalidParameter {"parameter":"names"}`, or the bare name without parameters.
    public var description: String {
        parameters.isEmpty ? name : "\(name) \(JSON.object(parameters))"
    }
}

// The errors of org.varlink.service, which every Varlink service may reply with.
extension VarlinkError {
    public static func interfaceNotFound(_ interface: String) -> VarlinkError {
        VarlinkError(name: ServiceInterface.ErrorName.interfaceNotFound, parameters: ["interface": .string(interface)])
    }

    public static func methodNotFound(_ method: String) -> VarlinkError {
        VarlinkError(name: ServiceInterface.ErrorName.methodNotFound, parameters: ["method": .string(method)])
    }

    public static func methodNotImplemented(_ method: String) -> VarlinkError {
        VarlinkError(
            name: ServiceInterface.ErrorName.methodNotImplemented, parameters: ["method": .string(method)])
    }

    /// `parameter` names the field: `names`, or a path such as `matches[0].count`.
    public static func invalidParameter(_ parameter: String) -> VarlinkError {
        VarlinkError(
            name: ServiceInterface.ErrorName.invalidParameter, parameters: ["parameter": .string(parameter)])
    }

    public static func permissionDenied() -> VarlinkError {
        VarlinkError(name: ServiceInterface.ErrorName.permissionDenied)
    }

    public static func expectedMore() -> VarlinkError {
        VarlinkError(name: ServiceInterface.ErrorName.expectedMore)
    }
}
