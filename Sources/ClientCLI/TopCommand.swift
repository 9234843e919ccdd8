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
            try following.report(MonitorInterface.Method.processes.call(), as: ProcessesReply.self, options: options, renderProcesses)
        }
    }
}

/// A `Processes` reply for people: the table, the kernel-held line, the pass. No newline
/// at the end.
func renderProcesses(_ reply: ProcessesReply) -> String {
    var lines = processTable(reply.processes).map { [$0] } ?? []
    if let held = reply.kernelHeld {
        lines.append("held by the kernel alone: \(held.count) buffer\(held.count == 1 ? "" : "s"), \(humanBytes(held.bytes))")
    } else {
        lines.append("held by the kernel alone: unknown (the pass could not list every buffer)")
    }
    lines.append(summary(reply.scan))
    return lines.joined(separator: "\n")
}

/// One row per process, as `top` and `mine` show them; nil for none.
func processTable(_ processes: [Process]) -> String? {
    guard !processes.isEmpty else { return nil }
    var table = Table([
        ("PID", .right), ("UID", .right), ("COMMAND", .left), ("CGROUP", .left), ("PSS", .right), ("RSS", .right),
        ("BUFFERS", .right), ("FDS", .right), ("MAPS", .right),
    ])
    for process in processes {
        table.append([
            String(process.pid), String(process.uid), printable(process.command), printable(process.cgroup),
            humanBytes(process.pss), humanBytes(process.rss), String(process.buffers), String(process.fds),
            String(process.mappings),
        ])
    }
    return table.render()
}
