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
            let parameters = try options.call(connection, Call(method: ServiceInterface.Method.getInfo.qualifiedName))
            if options.json { return options.printJSON(parameters) }
            let info = try decoded { () throws(VarlinkError) in try GetInfoReply(parameters: parameters) }
            print("""
                vendor:     \(info.vendor)
                product:    \(info.product)
                version:    \(info.version)
                url:        \(info.url)
                interfaces: \(info.interfaces.joined(separator: ", "))
                """)
        }
    }
}
