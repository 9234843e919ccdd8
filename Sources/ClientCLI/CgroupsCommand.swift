import ArgumentParser
import DmabufProtocol

struct CgroupsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cgroups",
        abstract: "Show the cgroup tree with the DMA-BUF memory each subtree holds.",
        discussion: """
            Runs a fresh pass and walks every process right after it. One row per cgroup whose \
            subtree holds a buffer, indented under its parent: RSS counts each buffer held \
            anywhere in the subtree once, PSS adds its processes' shares, BUFFERS and PROCESSES \
            count them. Root only by default; others get exit code 77 (dmabufctl mine answers \
            for the caller's own cgroup).
            """)

    @OptionGroup var options: ConnectionOptions

    @OptionGroup var following: FollowOptions

    func run() throws {
        try reportingFailures {
            try following.report(MonitorInterface.Method.cgroups.call(), as: CgroupsReply.self, options: options, renderCgroups)
        }
    }
}

/// The tree: the root, then each cgroup's last path component two spaces deeper than its parent.
func renderCgroups(_ reply: CgroupsReply) -> String {
    var table = Table([("CGROUP", .left), ("RSS", .right), ("PSS", .right), ("BUFFERS", .right), ("PROCESSES", .right)])
    for cgroup in reply.cgroups {
        let components = cgroup.path.split(separator: "/")
        let label = components.last.map { String(repeating: "  ", count: components.count) + $0 } ?? cgroup.path
        table.append([
            printable(label), humanBytes(cgroup.rss), humanBytes(cgroup.pss), String(cgroup.buffers),
            String(cgroup.processes),
        ])
    }
    return reply.cgroups.isEmpty ? summary(reply.scan) : table.render() + "\n" + summary(reply.scan)
}
