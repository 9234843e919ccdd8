/// The parameters of a call or a reply as one of an interface's types: read from a
/// message's `parameters` object with the interface's rules (errors name the field), and
/// written back to one.
public protocol MessageParameters: Sendable, Equatable {
    init(parameters: [String: JSON]) throws(VarlinkError)
    var parameters: [String: JSON] { get }
}
