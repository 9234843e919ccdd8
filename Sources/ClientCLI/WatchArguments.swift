import ArgumentParser
import DmabufProtocol

/// Names and prefixes given on the command line, checked with the protocol's own rules so
/// a bad one is refused before anything is sent.
struct WatchArguments: ParsableArguments {
    @Argument(help: "Buffer names (set with DMA_BUF_SET_NAME), each 1 to 31 bytes.")
    var names: [String] = []

    @Option(
        name: .customLong("prefix"),
        help: ArgumentHelp(
            "A name prefix: every buffer whose name starts with it (repeatable).", valueName: "prefix"))
    var prefixes: [String] = []

    var isEmpty: Bool { names.isEmpty && prefixes.isEmpty }

    /// The names and prefixes, validated; prefixes nil when none were given.
    func validated() throws -> (names: [WatchName], prefixes: [WatchName]?) {
        do {
            let names = try names.map { name throws(NameError) in try WatchName(validating: name) }
            let prefixes = try prefixes.map { prefix throws(NameError) in try WatchName(validating: prefix) }
            return (names, prefixes.isEmpty ? nil : prefixes)
        } catch {
            throw CLIFailure(message: "invalid name: \(error)", exitCode: .invalidInput)
        }
    }
}
