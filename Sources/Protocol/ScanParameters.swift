/// The parameters of `Scan(names, prefixes, details)`: names and prefixes
/// reported for this call only, on top of the connection's watch set.
public struct ScanParameters: MessageParameters {
    public var names: [WatchName]?
    public var prefixes: [WatchName]?
    /// Include each match's buffers.
    public var details: Bool?
    /// Include each match's holders: the processes that hold its buffers.
    public var holders: Bool?

    public init(names: [WatchName]? = nil, prefixes: [WatchName]? = nil, details: Bool? = nil, holders: Bool? = nil) {
        self.names = names
        self.prefixes = prefixes
        self.details = details
        self.holders = holders
    }

    /// Reads a call's parameters: every field optional, nothing else allowed;
    /// the first name that breaks the name rules is `io.dmabufd.Monitor.InvalidName`.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: ["names", "prefixes", "details", "holders"])
        let names = try reader.optionalStrings("names")
        let prefixes = try reader.optionalStrings("prefixes")
        let details = try reader.optionalBool("details")
        let holders = try reader.optionalBool("holders")
        self.init(
            names: try names.map { strings throws(VarlinkError) in try WatchName.validatingCallNames(strings) },
            prefixes: try prefixes.map { strings throws(VarlinkError) in try WatchName.validatingCallNames(strings) },
            details: details, holders: holders)
    }

    /// Fields that are nil are left out.
    public var parameters: [String: JSON] {
        var parameters: [String: JSON] = [:]
        if let names { parameters["names"] = .array(names.map { .string($0.string) }) }
        if let prefixes { parameters["prefixes"] = .array(prefixes.map { .string($0.string) }) }
        if let details { parameters["details"] = .bool(details) }
        if let holders { parameters["holders"] = .bool(holders) }
        return parameters
    }
}
