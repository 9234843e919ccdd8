import ArgumentParser
import DmabufProtocol

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch names, then show them after one fresh pass.",
        discussion: """
            Adds each NAME to this connection's watch set, runs one pass and prints what it saw. \
            Watches belong to the connection: they end when dmabufctl exits. A name is 1 to 31 \
            bytes.
            """)

    @OptionGroup var options: ConnectionOptions

    @Argument(help: "Buffer names to watch.")
    var names: [String]

    func validate() throws {
        guard !names.isEmpty else { throw ValidationError("give at least one NAME to watch") }
    }

    func run() throws {
        try reportingFailures {
            let names = try watchNames(self.names)
            let connection = try options.connect()
            _ = try options.call(
                connection, MonitorInterface.Method.watch.call(parameters: WatchParameters(names: names).parameters))
            let reply = try options.call(connection, MonitorInterface.Method.scan.call())
            try printScan(reply, options: options)
        }
    }
}
