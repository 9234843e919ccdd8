import DmabufSystem

/// How `watch --follow` ends from the outside: Ctrl-C, SIGTERM, or a reader that went away.
enum FollowExit {
    /// SIGINT and SIGTERM exit with status 0 at once. dmabufctl sits in recv(2) waiting
    /// for the service, so a flag set here would not be seen until the next reply: the
    /// handler does the only async-signal-safe things it needs, write(2) and _exit(2).
    /// Nothing is lost, since `StandardOutput` buffers nothing. On a terminal it first ends
    /// the line, so the shell's prompt starts on a fresh line below the table.
    ///
    /// SIGPIPE is ignored: a reader that closed the pipe shows up as EPIPE from write(2),
    /// which `StandardOutput` turns into a quiet exit 0.
    static func installSignalHandlers(freshLineOnExit: Bool) {
        let handler: @convention(c) (Int32) -> Void =
            freshLineOnExit
            ? { _ in
                var newline = UInt8(ascii: "\n")
                _ = write(STDOUT_FILENO, &newline, 1)
                _exit(0)
            }
            : { _ in _exit(0) }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        for signal in [SIGINT, SIGTERM] { sigaction(signal, &action, nil) }
        signal(SIGPIPE, SIG_IGN)
    }

    /// When stdout is a pipe, exits with status 0 as soon as its reader closes it
    /// (`dmabufctl watch --follow | head -1`), as `tail -f` does. Without this, dmabufctl
    /// would notice only at its next write, and a later reply comes only when something
    /// changes, which may be never. A thread of its own waits in poll(2): a pipe whose
    /// reader is gone reports POLLERR to the writer even when no event was asked for.
    static func whenPipeReaderLeaves() {
        var status = stat()
        guard fstat(STDOUT_FILENO, &status) == 0, status.st_mode & S_IFMT == S_IFIFO else { return }
        var thread = pthread_t()
        let started = pthread_create(
            &thread, nil,
            { _ in
                var poller = pollfd(fd: STDOUT_FILENO, events: 0, revents: 0)
                while poll(&poller, 1, -1) < 0 {
                    guard errno == EINTR else { return nil }
                }
                if poller.revents & Int16(POLLERR | POLLHUP) != 0 { _exit(0) }
                return nil
            }, nil)
        if started == 0 { pthread_detach(thread) }
    }
}

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

/// Frames drawn in place on a terminal: each one moves the cursor back over the one
/// before and clears to the end of the screen, so the view does not scroll.
struct TerminalFrames {
    /// Screen rows the last frame took, its final newline included.
    private var rowsDrawn = 0

    /// What to write to replace the last frame with `frame` (text without a final
    /// newline); the cursor ends at the start of the line below it.
    mutating func redraw(_ frame: String) -> String {
        let columns = TerminalFrames.columns()
        // ESC[nF: to the start of the line n rows up; ESC[J: clear from there to the end.
        let erase = rowsDrawn > 0 ? "\u{1B}[\(rowsDrawn)F\u{1B}[J" : ""
        // A line longer than the screen is wide wraps onto more rows.
        rowsDrawn = frame.split(separator: "\n", omittingEmptySubsequences: false)
            .reduce(0) { rows, line in rows + max(1, (line.count + columns - 1) / columns) }
        return erase + frame + "\n"
    }

    /// The terminal's width; 80 when it does not say.
    private static func columns() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}
