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
            let status = try options.call(connection, MonitorInterface.Method.status.call(), as: StatusReply.self)
            if options.json { return options.printJSON(status) }
            print(render(status.value))
            let pass = try options.call(connection, MonitorInterface.Method.scan.call(), as: ScanReply.self)
            print("")
            print(exporterTable(pass.value.scan))
        }
    }

    private func render(_ status: StatusReply) -> String {
        var text = """
            version:   \(status.version)
            kernel:    \(status.kernel)
            clients:   \(status.clients)
            watched:   \(status.watched) of \(status.capacity) names and prefixes
            scans:     \(status.scans)
            """
        if let entries = status.mapEntries, entries != status.watched {
            text += "\nwarning:   the kernel maps hold \(entries) entries, not \(status.watched)"
        }
        return text
    }
}
