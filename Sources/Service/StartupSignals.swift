import Glibc

/// SIGTERM and SIGINT while the service starts: from the moment its socket is published
/// until the service group takes the signals over, either one removes the socket and
/// exits 0, as a stop does later (there are no connections yet to end).
enum StartupSignals {
    /// The socket's path, for the handler, which can read only globals. Written once,
    /// before the handler is installed.
    nonisolated(unsafe) private static var socketPath: UnsafeMutablePointer<CChar>?

    static func removeOnStop(_ path: String) {
        socketPath = strdup(path)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if let path = StartupSignals.socketPath { unlink(path) }
            _exit(0)
        }
        sigemptyset(&action.sa_mask)
        for signal in [SIGTERM, SIGINT] { sigaction(signal, &action, nil) }
    }
}
