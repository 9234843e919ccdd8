/// `org.varlink.service.GetInterfaceDescription(interface: string)`.
public struct GetInterfaceDescriptionParameters: MessageParameters {
    /// The qualified interface name, e.g. `io.dmabufd.Monitor`.
    public var interface: String

    public init(interface: String) {
        self.interface = interface
    }

    /// Reads a call's parameters: `interface` is required, nothing else is allowed.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: ["interface"])
        self.init(interface: try reader.string("interface"))
    }

    public var parameters: [String: JSON] { ["interface": .string(interface)] }
}

/// `-> (description: string)`: the interface text, served verbatim.
public struct GetInterfaceDescriptionReply: MessageParameters {
    public var description: String

    public init(description: String) {
        self.description = description
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(description: try reader.string("description"))
    }

    public var parameters: [String: JSON] { ["description": .string(description)] }
}
