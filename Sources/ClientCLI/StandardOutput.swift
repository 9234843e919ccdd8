import DmabufSystem

/// Standard output through write(2): nothing is buffered (every line reaches a pipe's
/// reader at once, and a signal's `_exit` loses nothing), and a reader that closed the
/// pipe is an error we can tell apart.
struct StandardOutput {
    /// The reader closed stdout (EPIPE): not a failure, the command just ends.
    struct Closed: Error {}

    func write(_ text: String) throws {
        do {
            try Descriptor.writeAll(STDOUT_FILENO, text)
        } catch .brokenPipe {
            throw Closed()
        } catch {
            throw CLIFailure(message: "cannot write to standard output: \(error)", exitCode: .failure)
        }
    }
}
