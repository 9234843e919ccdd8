import DmabufProtocol

/// What one client may do: the methods of io.dmabufd.Monitor it may call and what it may
/// hold. `org.varlink.service` (GetInfo, GetInterfaceDescription) is open to everyone.
public struct Grant: Sendable, Equatable {
    public var methods: Set<MonitorInterface.Method>
    /// Names and prefixes one connection may hold: its watch set plus one Scan's extra
    /// ones. nil: only the map's capacity bounds them.
    public var maxNames: Int?
    /// Connections its uid may hold at once. nil: only `--max-connections` bounds them.
    public var maxConnections: Int?
    /// Whether `details` may be asked for (Scan, Subscribe).
    public var details: Bool
    /// Whether `Processes` shows every process, or only those of the caller's own uid.
    public var allProcesses: Bool
    /// The least time between two passes its uid asks for (Scan, List, Processes, Cgroups,
    /// Mine wait for their turn; Subscribe intervals are at least this). nil: no spacing.
    public var passSpacing: Duration?

    public init(
        methods: Set<MonitorInterface.Method>, maxNames: Int?, maxConnections: Int?, details: Bool,
        allProcesses: Bool = false, passSpacing: Duration? = nil
    ) {
        self.methods = methods
        self.maxNames = maxNames
        self.maxConnections = maxConnections
        self.details = details
        self.allProcesses = allProcesses
        self.passSpacing = passSpacing
    }

    public static let everything = Grant(
        methods: Set(MonitorInterface.Method.allCases), maxNames: nil, maxConnections: nil, details: true,
        allProcesses: true)
}
