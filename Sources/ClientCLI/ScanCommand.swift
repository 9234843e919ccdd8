import ArgumentParser
import DmabufProtocol

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Run a fresh pass and show each name's buffers.",
        discussion: """
            Asks dmabufd for a pass that starts after the request and reports each NAME and \
            --prefix: whether any buffer matches it, how many, and their total bytes. A prefix \
            matches every buffer whose name starts with it; a buffer counts for every prefix it \
            matches. Names and prefixes are 1 to 31 bytes (what the kernel keeps). With neither, \
            the reply still carries the host's totals.

            --holders adds, under each, the processes that hold its buffers (by an fd or a \
            mapping) with the bytes of them each holds; users other than root see only their own \
            processes.
            """)

    @OptionGroup var options: ConnectionOptions

    @OptionGroup var watches: WatchArguments

    @Flag(help: "Also show each buffer (inode, size, exporter) under the name or prefix it matched.")
    var details = false

    @Flag(help: "Also show the processes that hold each name's buffers, and how many bytes of them.")
    var holders = false

    func run() throws {
        try reportingFailures {
            let (names, prefixes) = try watches.validated()
            let connection = try options.connect()
            let parameters = ScanParameters(
                names: names, prefixes: prefixes, details: details ? true : nil, holders: holders ? true : nil
            ).parameters
            let call = MonitorInterface.Method.scan.call(parameters: parameters)
            options.print(try options.call(connection, call, as: ScanReply.self), renderScan)
        }
    }
}
