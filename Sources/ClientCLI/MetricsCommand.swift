import ArgumentParser
import DmabufProtocol

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print the service's Prometheus metrics, the text its HTTP endpoint serves.",
        discussion: """
            The text is in Prometheus's text exposition format: each metric's HELP and TYPE \
            lines, then its samples. It is what `dmabufd --metrics-address` serves at /metrics; \
            on a host that does not run the endpoint, node_exporter's textfile collector can read \
            it from a file written, say, every minute by a timer:

              dmabufctl metrics --output /var/lib/node_exporter/textfile/dmabufd.prom

            --output replaces the file whole (written beside it, then renamed over it), so the \
            collector never reads half of one. The metrics name every client's watched names, so \
            by default only root may ask; dmabufd's --policy can grant Metrics to others.
            """)

    @OptionGroup var options: ConnectionOptions

    @Option(
        help: ArgumentHelp("Write the metrics to this file, replacing it whole, instead of printing them.", valueName: "file"),
        completion: .file(extensions: ["prom"]))
    var output: String?

    func validate() throws {
        if output != nil, options.json { throw ValidationError("--output writes the metrics text; leave out --json") }
    }

    func run() throws {
        try reportingFailures {
            let connection = try options.connect()
            let answer = try options.call(connection, MonitorInterface.Method.metrics.call(), as: MetricsReply.self)
            if let output {
                try FileReplacement(path: output).replace(with: answer.value.exposition)
            } else if options.json {
                options.printJSON(answer)
            } else {
                print(answer.value.exposition, terminator: "")
            }
        }
    }
}
