/// The reply of `Cgroups()`: `-> (cgroups: []Cgroup, scan: ScanInfo)`. `Cgroups` takes
/// no parameters: read them with `NoParameters`.
public struct CgroupsReply: MessageParameters {
    public var cgroups: [Cgroup]
    public var scan: ScanInfo

    public init(cgroups: [Cgroup], scan: ScanInfo) {
        self.cgroups = cgroups
        self.scan = scan
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(
            cgroups: try reader.required("cgroups") { value, path throws(VarlinkError) in
                try ParameterReader.array(value, at: path) { element, path throws(VarlinkError) in
                    try Cgroup(json: element, at: path)
                }
            },
            scan: try reader.required("scan") { value, path throws(VarlinkError) in try ScanInfo(json: value, at: path) })
    }

    public var parameters: [String: JSON] {
        ["cgroups": .array(cgroups.map(\.json)), "scan": scan.json]
    }
}
