/// The reply of `Mine()`: `-> (cgroup: Cgroup, processes: []Process, scan: ScanInfo)`:
/// the caller's own cgroup subtree. `Mine` takes no parameters: read them with
/// `NoParameters`.
public struct MineReply: MessageParameters {
    public var cgroup: Cgroup
    public var processes: [Process]
    public var scan: ScanInfo

    public init(cgroup: Cgroup, processes: [Process], scan: ScanInfo) {
        self.cgroup = cgroup
        self.processes = processes
        self.scan = scan
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(
            cgroup: try reader.required("cgroup") { value, path throws(VarlinkError) in try Cgroup(json: value, at: path) },
            processes: try reader.required("processes") { value, path throws(VarlinkError) in
                try ParameterReader.array(value, at: path) { element, path throws(VarlinkError) in
                    try Process(json: element, at: path)
                }
            },
            scan: try reader.required("scan") { value, path throws(VarlinkError) in try ScanInfo(json: value, at: path) })
    }

    public var parameters: [String: JSON] {
        ["cgroup": cgroup.json, "processes": .array(processes.map(\.json)), "scan": scan.json]
    }
}
