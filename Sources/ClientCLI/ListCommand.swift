import ArgumentParser
import DmabufClient
import DmabufProtocol

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Show every DMA-BUF on the host.",
        discussion: """
            Runs a fresh pass and lists every buffer: inode, size, references to its file \
            (one per fd and per mapping, and any the kernel holds), exporter and name ("" when \
            unnamed). The default policy allows this to root only; others get exit code 77.
            """)

    @OptionGroup var options: ConnectionOptions

    func run() throws {
        try reportingFailures {
            let connection = try options.connect()
            // Called with "more": the buffers come in slices, however many there are.
            let answer: Answer<ListReply> = try options.gathering(
                connection, MonitorInterface.Method.list.call(), joining: "buffers")
            options.print(answer) { reply in
                guard !reply.buffers.isEmpty else { return summary(reply.scan) }
                var table = Table([("INODE", .right), ("SIZE", .right), ("REFS", .right), ("EXPORTER", .left), ("NAME", .left)])
                for buffer in reply.buffers {
                    table.append([
                        String(buffer.inode), String(buffer.size), buffer.references.map(String.init) ?? "-",
                        printable(buffer.exporter), printable(buffer.name),
                    ])
                }
                return table.render() + "\n" + summary(reply.scan)
            }
        }
    }
}
