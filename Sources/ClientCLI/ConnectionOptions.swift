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

    /// Connects to the service, turning a failure into the documented exit code.
    func connect() throws -> VarlinkConnection {
        do {
            return try VarlinkConnection(path: socket ?? VarlinkConnection.defaultSocketPath())
        } catch {
            throw CLIFailure(error)
        }
    }

    /// Makes one call and returns the reply's parameters; an error reply is a failure.
    func call(_ connection: VarlinkConnection, _ call: Call) throws -> [String: JSON] {
        do {
            return try connection.call(call).parameters
        } catch {
            throw CLIFailure(error)
        }
    }

    /// Prints a reply for a script: the parameters, one JSON object on one line.
    func printJSON(_ parameters: [String: JSON]) {
        print(JSON.object(parameters).encodedString())
    }
}
