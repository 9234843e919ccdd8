/// `org.varlink.service`, the interface every Varlink service provides:
/// what the service is, and the text of each interface it serves.
public enum ServiceInterface {
    public static let name = "org.varlink.service"

    /// The interface text, byte for byte as in `org.varlink.service.varlink`.
    public static let description = String(decoding: PackageResources.org_varlink_service_varlink, as: UTF8.self)

    /// The qualified name of one of the interface's methods: `method("GetInfo")` is `org.varlink.service.GetInfo`.
    public static func method(_ member: String) -> String { "\(name).\(member)" }

    public enum Method: String, Sendable, CaseIterable {
        case getInfo = "GetInfo"
        case getInterfaceDescription = "GetInterfaceDescription"

        /// `org.varlink.service.GetInfo`.
        public var qualifiedName: String { ServiceInterface.method(rawValue) }
    }

    /// The qualified names of the interface's errors.
    public enum ErrorName {
        public static let interfaceNotFound = "org.varlink.service.InterfaceNotFound"
        public static let methodNotFound = "org.varlink.service.MethodNotFound"
        public static let methodNotImplemented = "org.varlink.service.MethodNotImplemented"
        public static let invalidParameter = "org.varlink.service.InvalidParameter"
        public static let permissionDenied = "org.varlink.service.PermissionDenied"
        public static let expectedMore = "org.varlink.service.ExpectedMore"
    }
}
