/// The parameters of `Watch(names, prefixes)` and `Unwatch(names, prefixes)`.
public struct WatchParameters: MessageParameters {
    public var names: [WatchName]
    public var prefixes: [WatchName]?

    public init(names: [WatchName], prefixes: [WatchName]? = nil) {
        self.names = names
        self.prefixes = prefixes
    }

    /// Reads a call's parameters: `names` is required, `prefixes` optional,
    /// nothing else allowed; the first name that breaks the name rules is
    /// `io.dmabufd.Monitor.InvalidName`.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: ["names", "prefixes"])
        let names = try reader.strings("names")
        let prefixes = try reader.optionalStrings("prefixes")
        self.init(
            names: try WatchName.validatingCallNames(names),
            prefixes: try prefixes.map { strings throws(VarlinkError) in try WatchName.validatingCallNames(strings) })
    }

    /// `prefixes` is left out when nil.
    public var parameters: [String: JSON] {
        var parameters: [String: JSON] = ["names": .array(names.map { .string($0.string) })]
        if let prefixes { parameters["prefixes"] = .array(prefixes.map { .string($0.string) }) }
        return parameters
    }
}
