import ArgumentParser
import DmabufProtocol

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch names and prefixes, then show them after one fresh pass.",
        discussion: """
            Adds each NAME and --prefix to this connection's watch set, runs one pass and prints \
            what it saw. Watches belong to the connection: they end when dmabufctl exits. Names \
            and prefixes are 1 to 31 bytes.
            """)

    @OptionGroup var options: ConnectionOptions

    @OptionGroup var watches: WatchArguments

    func validate() throws {
        guard !watches.isEmpty else { throw ValidationError("give at least one NAME or --prefix to watch") }
    }

    func run() throws {
        try reportingFailures {
            let (names, prefixes) = try watches.validated()
            let connection = try options.connect()
            let parameters = WatchParameters(names: names, prefixes: prefixes).parameters
            _ = try options.call(connection, MonitorInterface.Method.watch.call(parameters: parameters))
            let reply = try options.call(connection, MonitorInterface.Method.scan.call())
            try printScan(reply, options: options)
        }
    }
}
