import ArgumentParser
import DmabufClient
import DmabufProtocol
import DmabufSystem

struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show which processes hold DMA-BUFs, largest share first.",
        discussion: """
            Runs a fresh pass and walks every process's open fds and mappings right after it. \
            One row per process that holds a buffer: PSS is its share (each buffer's size \
            divided by the processes holding it), RSS the total size of the buffers it holds, \
            BUFFERS how many, FDS its DMA-BUF fds (duplicates count), MAPS its mappings. Below \
            the table: the buffers no process holds, held by the kernel alone (a driver, a \
            buffer in flight in a socket message, a leak).

            Under the default policy a user other than root sees only its own processes.

            With --follow it asks again every --interval milliseconds (default 1000, at least \
            100): on a terminal the table is redrawn in place; with --json or into a pipe each \
            answer is one JSON line. Ctrl-C, SIGTERM or a reader that closes the pipe end it with \
            exit code 0; 69 when dmabufd stops.
            """)

    @OptionGroup var options: ConnectionOptions

    @OptionGroup var following: FollowOptions

    func run() throws {
        try reportingFailures {
            let call = MonitorInterface.Method.processes.call()
            guard following.follow else {
                let connection = try options.connect()
                return options.print(try options.call(connection, call, as: ProcessesReply.self), renderProcesses)
            }
            let onTerminal = !options.json && isatty(STDOUT_FILENO) == 1
            FollowExit.installSignalHandlers(freshLineOnExit: onTerminal)
            if !onTerminal { FollowExit.whenPipeReaderLeaves() }
            let connection = try options.connect()
            let pause = max(following.interval ?? 1000, 100)
            let output = StandardOutput()
            var frames = TerminalFrames()
            do {
                while true {
                    let answer = try connection.call(call, as: ProcessesReply.self)
                    try output.write(
                        onTerminal
                            ? frames.redraw(renderProcesses(answer.value))
                            : JSON.object(answer.parameters).encodedString() + "\n")
                    usleep(UInt32(pause) * 1000)
                }
            } catch is StandardOutput.Closed {
                return
            } catch let error as ClientError {
                throw CLIFailure(following: error)
            }
        }
    }
}

/// A `Processes` reply for people: the table, the kernel-held line, the pass. No newline
/// at the end.
func renderProcesses(_ reply: ProcessesReply) -> String {
    var lines: [String] = []
    if !reply.processes.isEmpty {
        var table = Table([
            ("PID", .right), ("UID", .right), ("COMMAND", .left), ("CGROUP", .left), ("PSS", .right), ("RSS", .right),
            ("BUFFERS", .right), ("FDS", .right), ("MAPS", .right),
        ])
        for process in reply.processes {
            table.append([
                String(process.pid), String(process.uid), printable(process.command), printable(process.cgroup),
                humanBytes(process.pss), humanBytes(process.rss), String(process.buffers), String(process.fds),
                String(process.mappings),
            ])
        }
        lines.append(table.render())
    }
    if let held = reply.kernelHeld {
        lines.append("held by the kernel alone: \(held.count) buffer\(held.count == 1 ? "" : "s"), \(humanBytes(held.bytes))")
    } else {
        lines.append("held by the kernel alone: unknown (the pass could not list every buffer)")
    }
    lines.append(summary(reply.scan))
    return lines.joined(separator: "\n")
}
