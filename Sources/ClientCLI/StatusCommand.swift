import ArgumentParser
import DmabufProtocol

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the service's version, kernel and load, and the host's buffers by exporter.",
        discussion: """
            The exporter table comes from a fresh pass: every exporter on the host (a GPU \
            driver, "system", "udmabuf"), with its buffers and their total size. With --json, \
            only the Status reply is printed; `dmabufctl scan --json` has the exporters under \
            scan.exporters.
            """)

    @OptionGroup var options: ConnectionOptions

    func run() throws {
        try reportingFailures {
            let connection = try options.connect()
            let parameters = try options.call(connection, MonitorInterface.Method.status.call())
            if options.json { return options.printJSON(parameters) }
            let status = try decoded { () throws(VarlinkError) in try StatusReply(parameters: parameters) }
            print("""
                version:   \(status.version)
                kernel:    \(status.kernel)
                clients:   \(status.clients)
                watched:   \(status.watched) of \(status.capacity) names and prefixes
                scans:     \(status.scans)
                """)
            if let entries = status.mapEntries, entries != status.watched {
                print("warning:   the kernel maps hold \(entries) entries, not \(status.watched)")
            }
            let pass = try options.call(connection, MonitorInterface.Method.scan.call())
            let scan = try decoded { () throws(VarlinkError) in try ScanReply(parameters: pass) }
            print("")
            print(exporterTable(scan.scan))
        }
    }
}
