import ArgumentParser
import DmabufProtocol

@main
struct Dmabufctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dmabufctl",
        abstract: "Ask dmabufd which DMA-BUF buffers exist, by name.",
        discussion: """
            dmabufctl talks to the dmabufd service over its Varlink socket \
            (\(MonitorInterface.defaultSocketPath) unless --socket or $\(MonitorInterface.socketEnvironmentVariable) \
            says otherwise). It prints tables for people; --json prints the service's reply as one \
            JSON object for scripts.

            Examples:
              dmabufctl scan camera-0 camera-1   buffers carrying each name, and bytes
              dmabufctl watch camera-0 --follow  a live table; Ctrl-C ends it (exit code 0)
              dmabufctl top                      who holds buffers, largest share first
              dmabufctl cgroups                  the cgroup tree, what each subtree holds
              dmabufctl mine --follow --json     what your own container holds, live
              dmabufctl list                     every buffer (root only by default)
              dmabufctl status --json            the service's state, for scripts
              dmabufctl metrics                  Prometheus metrics (root only by default)

            Exit codes:
              0   success
              64  bad command line
              65  invalid input: a name the kernel cannot hold, a refused parameter
              69  dmabufd is not running (no socket, or nobody answers on it), or it
                  stopped during watch --follow
              73  metrics --output: the file cannot be written
              75  the service is at a limit (capacity or quota); try fewer names. Or, for
                  watch --follow, its output was not read for too long (SubscriberStalled)
              76  the service answered something dmabufctl cannot read
              77  permission denied (the socket's mode, or the service's policy)
              124 dmabufd sent nothing for --timeout seconds while an answer was due (it
                  is stopped or wedged); the code timeout(1) exits with
              1   any other failure
            """,
        version: ProductVersion.string,
        subcommands: [
            ScanCommand.self, WatchCommand.self, TopCommand.self, CgroupsCommand.self, MineCommand.self,
            ListCommand.self, StatusCommand.self,
            MetricsCommand.self, InfoCommand.self,
        ])
}
