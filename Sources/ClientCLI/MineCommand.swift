import ArgumentParser
import DmabufProtocol

struct MineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mine",
        abstract: "Show the DMA-BUF memory of your own cgroup: your container, your pod, your service.",
        discussion: """
            dmabufd finds the caller's cgroup from the connection itself (the kernel's pidfd \
            information, Linux 6.13+), in any pid namespace, so a sidecar needs no host pid. It \
            prints the cgroup's totals over its whole subtree (RSS counts each buffer once, PSS \
            adds the shares), then the subtree's processes that hold buffers, whatever their uid. \
            Open to every user.
            """)

    @OptionGroup var options: ConnectionOptions

    @OptionGroup var following: FollowOptions

    func run() throws {
        try reportingFailures {
            try following.report(MonitorInterface.Method.mine.call(), as: MineReply.self, options: options, renderMine)
        }
    }
}

/// The cgroup's line, its processes (as `top` shows them), the pass.
func renderMine(_ reply: MineReply) -> String {
    let cgroup = reply.cgroup
    let line = "cgroup \(printable(cgroup.path)): \(humanBytes(cgroup.rss)) in \(cgroup.buffers) buffers, "
        + "pss \(humanBytes(cgroup.pss)), \(cgroup.processes) processes"
    return ([line] + (processTable(reply.processes).map { [$0] } ?? []) + [summary(reply.scan)]).joined(separator: "\n")
}
