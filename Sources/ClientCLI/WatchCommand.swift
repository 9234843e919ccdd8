import ArgumentParser
import DmabufClient
import DmabufProtocol
import DmabufSystem

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch names and prefixes, then show them after one fresh pass, or follow them.",
        discussion: """
            Adds each NAME and --prefix to this connection's watch set, runs one pass and prints \
            what it saw. Watches belong to the connection: they end when dmabufctl exits. Names \
            and prefixes are 1 to 31 bytes.

            With --follow, dmabufctl keeps the connection and subscribes: dmabufd scans every \
            --interval milliseconds (default 1000, at least 100) and reports what changed.

            On a terminal, dmabufctl shows the table `scan` shows, and redraws it in place \
            whenever dmabufd reports.

            With --json, or when stdout is not a terminal, it prints one JSON object per line, \
            each as soon as it arrives. The first line holds every name and prefix; each later \
            line holds only those that changed since the line before (appeared, or another count, \
            bytes or buffers), and the pass. A name whose buffers are all gone comes as \
            "present":false,"count":0,"bytes":0 and stays watched.

            Ctrl-C (SIGINT), SIGTERM, or a reader that closes the pipe (`| head -1`) end --follow \
            with exit code 0. It fails with:
              69  dmabufd stopped (it said ShuttingDown, or closed the connection)
              75  dmabufd ended the subscription: dmabufctl's output was not read for
                  too long (SubscriberStalled); whatever reads it fell behind
              76  dmabufd does not serve Subscribe, or sent a reply dmabufctl cannot read
            """)

    @OptionGroup var options: ConnectionOptions

    @OptionGroup var watches: WatchArguments

    @Flag(help: "Also show each buffer (inode, size, exporter) under the name or prefix it matched.")
    var details = false

    @OptionGroup var following: FollowOptions

    func validate() throws {
        guard !watches.isEmpty else { throw ValidationError("give at least one NAME or --prefix to watch") }
    }

    func run() throws {
        try reportingFailures {
            let (names, prefixes) = try watches.validated()
            let watch = MonitorInterface.Method.watch.call(
                parameters: WatchParameters(names: names, prefixes: prefixes).parameters)
            if following.follow {
                let subscribe = SubscribeParameters(intervalMsec: following.interval, details: details ? true : nil)
                return try Following(options: options, watch: watch, subscribe: subscribe).run()
            }
            let connection = try options.connect()
            _ = try options.call(connection, watch, as: WatchReply.self)
            let scan = MonitorInterface.Method.scan.call(parameters: ScanParameters(details: details ? true : nil).parameters)
            options.print(try options.call(connection, scan, as: ScanReply.self), renderScan)
        }
    }
}

/// `watch --follow`: Watch, then Subscribe on the same connection, printing each reply
/// until the service ends the stream or something outside ends dmabufctl.
private struct Following {
    let options: ConnectionOptions
    let watch: Call
    let subscribe: SubscribeParameters

    func run() throws {
        // For people: the merged state, redrawn. For programs (or a pipe): the replies as sent.
        let onTerminal = !options.json && isatty(STDOUT_FILENO) == 1
        FollowExit.installSignalHandlers(freshLineOnExit: onTerminal)
        if !onTerminal { FollowExit.whenPipeReaderLeaves() }

        let connection = try options.connect()
        _ = try options.call(connection, watch, as: WatchReply.self)
        let output = StandardOutput()
        var view = SubscriptionView()
        var frames = TerminalFrames()
        let call = MonitorInterface.Method.subscribe.call(parameters: subscribe.parameters)
        do {
            try connection.stream(call) { reply in
                if onTerminal {
                    view.apply(try VarlinkConnection.read(reply, of: call) as ScanReply)
                    if let state = view.reply { try output.write(frames.redraw(renderScan(state))) }
                } else {
                    try output.write(JSON.object(reply.parameters).encodedString() + "\n")
                }
                return true
            }
        } catch is StandardOutput.Closed {
            return
        } catch let error as ClientError {
            throw CLIFailure(following: error)
        }
        throw CLIFailure(message: "dmabufd ended the subscription without an error", exitCode: .protocolError)
    }
}
