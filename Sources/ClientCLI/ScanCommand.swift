import ArgumentParser
import DmabufProtocol

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Run a fresh pass and show each name's buffers.",
        discussion: """
            Asks dmabufd for a pass that starts after the request and reports each NAME: whether \
            any buffer carries it, how many, and their total bytes. A name is 1 to 31 bytes \
            (what the kernel keeps). With no NAME the reply still carries the host's totals.
            """)

    @OptionGroup var options: ConnectionOptions

    @Argument(help: "Buffer names to look for (set with DMA_BUF_SET_NAME).")
    var names: [String] = []

    func run() throws {
        try reportingFailures {
            let names = try watchNames(self.names)
            let connection = try options.connect()
            let reply = try options.call(
                connection, MonitorInterface.Method.scan.call(parameters: ScanParameters(names: names).parameters))
            try printScan(reply, options: options)
        }
    }
}
