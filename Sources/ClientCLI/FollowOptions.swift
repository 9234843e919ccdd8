import ArgumentParser

/// `--follow` and `--interval`, shared by the commands that can keep reporting.
struct FollowOptions: ParsableArguments {
    @Flag(help: "Keep reporting: print every change until Ctrl-C (see below for the output).")
    var follow = false

    @Option(
        help: ArgumentHelp(
            "With --follow: milliseconds between passes (default 1000; dmabufd takes at least 100).",
            valueName: "msec"),
        completion: .list(["100", "250", "500", "1000", "5000"]))
    var interval: Int?

    /// One line and exit code 64, like every other usage error dmabufctl reports itself.
    func validate() throws {
        try reportingFailures {
            guard let interval else { return }
            guard follow else { throw CLIFailure(message: "--interval needs --follow", exitCode: .validationFailure) }
            guard interval > 0 else {
                throw CLIFailure(
                    message: "--interval must be a positive number of milliseconds, not \(interval)",
                    exitCode: .validationFailure)
            }
        }
    }
}
