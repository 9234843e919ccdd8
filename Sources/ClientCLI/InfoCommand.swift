import ArgumentParser
import DmabufProtocol

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what the service is and which Varlink interfaces it serves.")

    @OptionGroup var options: ConnectionOptions

    func run() throws {
        try reportingFailures {
            let connection = try options.connect()
            let call = Call(method: ServiceInterface.Method.getInfo.qualifiedName)
            options.print(try options.call(connection, call, as: GetInfoReply.self)) { info in
                """
                vendor:     \(info.vendor)
                product:    \(info.product)
                version:    \(info.version)
                url:        \(info.url)
                interfaces: \(info.interfaces.joined(separator: ", "))
                """
            }
        }
    }
}
