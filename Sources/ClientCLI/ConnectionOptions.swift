import ArgumentParser
import DmabufClient
import DmabufProtocol

/// Options every command shares: where the service is and how to print.
struct ConnectionOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The service's Unix socket.",
            discussion:
                "Default: $\(MonitorInterface.socketEnvironmentVariable), else \(MonitorInterface.defaultSocketPath)."),
        completion: .file())
    var socket: String?

    @Flag(help: "Print the service's reply as one JSON object instead of a table.")
    var json = false

    @Option(
        help: ArgumentHelp(
            """
            Seconds dmabufd may stay silent while an answer is due (and take to accept the \
            connection) before dmabufctl gives up with exit code 124; 0 waits for ever. With \
            --follow, changes may come at any time after the first answer: only answers to calls are timed.
            """, valueName: "seconds"))
    var timeout = VarlinkConnection.defaultTimeout

    func validate() throws {
        guard timeout >= 0, timeout.isFinite else { throw ValidationError("--timeout must be 0 or more seconds") }
    }

    /// Connects to the service, turning a failure into the documented exit code.
    func connect() throws -> VarlinkConnection {
        do {
            return try VarlinkConnection(
                path: socket ?? VarlinkConnection.defaultSocketPath(), timeout: timeout > 0 ? timeout : nil)
        } catch {
            throw CLIFailure(error)
        }
    }

    /// Makes one call and reads its reply as `Value`; an error reply, or a reply that is
    /// not a `Value`, is a failure with its exit code.
    func call<Value: MessageParameters>(_ connection: VarlinkConnection, _ call: Call, as type: Value.Type) throws
        -> Answer<Value>
    {
        do {
            return try connection.call(call, as: type)
        } catch {
            throw CLIFailure(error)
        }
    }

    /// `VarlinkConnection.gathering`, its failures as `CLIFailure`.
    func gathering<Value: MessageParameters>(_ connection: VarlinkConnection, _ call: Call, joining key: String)
        throws -> Answer<Value>
    {
        do {
            return try connection.gathering(call, joining: key, as: Value.self)
        } catch let error as ClientError {
            throw CLIFailure(error)
        }
    }

    /// Prints an answer: for --json its parameters as they came, one JSON object on one
    /// line; else what `render` makes of it.
    func print<Value>(_ answer: Answer<Value>, _ render: (Value) throws -> String) rethrows {
        if json { return printJSON(answer) }
        Swift.print(try render(answer.value))
    }

    /// Prints an answer for a script: its parameters as they came, one JSON object on one line.
    func printJSON<Value>(_ answer: Answer<Value>) {
        Swift.print(JSON.object(answer.parameters).encodedString())
    }
}
