/// The reply of `Metrics()`: the Prometheus text exposition. `Metrics` takes no
/// parameters: read them with `NoParameters`.
public struct MetricsReply: MessageParameters {
    /// Prometheus text exposition format, version 0.0.4; ends with a newline.
    public var exposition: String

    public init(exposition: String) {
        self.exposition = exposition
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(exposition: try reader.string("exposition"))
    }

    public var parameters: [String: JSON] { ["exposition": .string(exposition)] }
}
