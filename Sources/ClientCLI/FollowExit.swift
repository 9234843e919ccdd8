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
