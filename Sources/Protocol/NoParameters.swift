/// The parameters of a method that takes none, such as `Status()` or `GetInfo()`:
/// any field is an unknown one (`org.varlink.service.InvalidParameter`).
public struct NoParameters: MessageParameters {
    public init() {}

    public init(parameters: [String: JSON]) throws(VarlinkError) {
        _ = try ParameterReader(parameters, allowing: [])
    }

    public var parameters: [String: JSON] { [:] }
}
