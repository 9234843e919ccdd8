import ArgumentParser
import DmabufClient
import DmabufProtocol
import DmabufSystem

/// `--follow` and `--interval`, shared by the commands that can keep reporting.
struct FollowOptions: ParsableArguments {
    @Flag(help: "Keep reporting: print every change until Ctrl-C (see below for the output).")
    var follow = false

    @Option(
        help: ArgumentHelp(
            "With --follow: milliseconds between passes (default 1000; dmabufd takes at least 100).",
            valueName: "msec"),
        completion: .list(["100", "250", "500", "1000", "5000"]))
    var interval: Int?

    /// One line and exit code 64, like every other usage error dmabufctl reports itself.
    func validate() throws {
        try reportingFailures {
            guard let interval else { return }
            guard follow else { throw CLIFailure(message: "--interval needs --follow", exitCode: .validationFailure) }
            guard interval > 0 else {
                throw CLIFailure(
                    message: "--interval must be a positive number of milliseconds, not \(interval)",
                    exitCode: .validationFailure)
            }
        }
    }

    /// Makes `call` once and prints its answer; with --follow, again every interval (at
    /// least 100 ms): redrawn in place on a terminal, one JSON line each otherwise. Ctrl-C,
    /// SIGTERM or a reader that closes the pipe end it with 0; dmabufd going away with 69.
    func report<Value: MessageParameters>(
        _ call: Call, as type: Value.Type, options: ConnectionOptions, _ render: (Value) -> String
    ) throws {
        guard follow else {
            let connection = try options.connect()
            return options.print(try options.call(connection, call, as: type), render)
        }
        let onTerminal = !options.json && isatty(STDOUT_FILENO) == 1
        FollowExit.installSignalHandlers(freshLineOnExit: onTerminal)
        if !onTerminal { FollowExit.whenPipeReaderLeaves() }
        let connection = try options.connect()
        let pause = max(interval ?? 1000, 100)
        let output = StandardOutput()
        var frames = TerminalFrames()
        do {
            while true {
                let answer = try connection.call(call, as: type)
                try output.write(
                    onTerminal
                        ? frames.redraw(render(answer.value)) : JSON.object(answer.parameters).encodedString() + "\n")
                try connection.idle(milliseconds: pause)
            }
        } catch is StandardOutput.Closed {
            return
        } catch let error as ClientError {
            throw CLIFailure(following: error)
        }
    }
}
