/// `io.dmabufd.Monitor`, the interface dmabufd serves: its name, its text,
/// its methods and errors, and where its socket is.
public enum MonitorInterface {
    public static let name = "io.dmabufd.Monitor"

    /// The interface text, byte for byte as in `io.dmabufd.Monitor.varlink`;
    /// `GetInterfaceDescription` serves it verbatim.
    public static let description = String(decoding: PackageResources.io_dmabufd_Monitor_varlink, as: UTF8.self)

    /// Where dmabufd listens unless told otherwise.
    public static let defaultSocketPath = "/run/dmabufd/dmabufd.sock"

    /// The environment variable that overrides `defaultSocketPath` for clients.
    public static let socketEnvironmentVariable = "DMABUFD_SOCKET"

    /// `DMABUFD_SOCKET` when set and not empty, else the default path.
    public static func socketPath(environment: [String: String]) -> String {
        if let path = environment[socketEnvironmentVariable], !path.isEmpty { return path }
        return defaultSocketPath
    }

    /// The qualified name of one of the interface's methods: `method("Scan")` is `io.dmabufd.Monitor.Scan`.
    public static func method(_ member: String) -> String { "\(name).\(member)" }

    public enum Method: String, Sendable, CaseIterable {
        case watch = "Watch"
        case unwatch = "Unwatch"
        case scan = "Scan"
        case subscribe = "Subscribe"
        case list = "List"
        case status = "Status"
        case metrics = "Metrics"
        case processes = "Processes"
        case cgroups = "Cgroups"
        case mine = "Mine"

        /// `io.dmabufd.Monitor.Scan`.
        public var qualifiedName: String { MonitorInterface.method(rawValue) }

        /// A call of this method.
        public func call(parameters: [String: JSON] = [:], more: Bool = false, oneway: Bool = false) -> Call {
            Call(method: qualifiedName, parameters: parameters, more: more, oneway: oneway)
        }
    }

    /// The qualified names of the interface's errors.
    public enum ErrorName {
        public static let invalidName = "io.dmabufd.Monitor.InvalidName"
        public static let tooManyNames = "io.dmabufd.Monitor.TooManyNames"
        public static let capacityExhausted = "io.dmabufd.Monitor.CapacityExhausted"
        public static let shuttingDown = "io.dmabufd.Monitor.ShuttingDown"
        public static let scanFailed = "io.dmabufd.Monitor.ScanFailed"
        public static let alreadySubscribed = "io.dmabufd.Monitor.AlreadySubscribed"
        public static let attributionUnavailable = "io.dmabufd.Monitor.AttributionUnavailable"
        public static let subscriberStalled = "io.dmabufd.Monitor.SubscriberStalled"
        public static let invalidMessage = VarlinkError.invalidMessageName
    }
}
