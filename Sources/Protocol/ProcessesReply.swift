/// The reply of `Processes()`: `-> (processes: []Process, kernel_held: ?KernelHeld,
/// scan: ScanInfo)`. `Processes` takes no parameters: read them with `NoParameters`.
public struct ProcessesReply: MessageParameters {
    public var processes: [Process]
    /// Buffers no process holds; optional in the interface, always sent by this version.
    public var kernelHeld: KernelHeld?
    public var scan: ScanInfo

    public init(processes: [Process], kernelHeld: KernelHeld?, scan: ScanInfo) {
        self.processes = processes
        self.kernelHeld = kernelHeld
        self.scan = scan
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(
            processes: try reader.required("processes") { value, path throws(VarlinkError) in
                try ParameterReader.array(value, at: path) { element, path throws(VarlinkError) in
                    try Process(json: element, at: path)
                }
            },
            kernelHeld: try reader.optional("kernel_held") { value, path throws(VarlinkError) in
                try KernelHeld(json: value, at: path)
            },
            scan: try reader.required("scan") { value, path throws(VarlinkError) in try ScanInfo(json: value, at: path) })
    }

    /// `kernel_held` is left out when nil.
    public var parameters: [String: JSON] {
        var parameters: [String: JSON] = ["processes": .array(processes.map(\.json)), "scan": scan.json]
        if let kernelHeld { parameters["kernel_held"] = kernelHeld.json }
        return parameters
    }
}
