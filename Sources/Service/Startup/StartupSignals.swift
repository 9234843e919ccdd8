import DmabufSystem

/// SIGTERM and SIGINT while the service starts: until the service group takes the
/// signals over, either one exits 0 and removes the socket file the service made, as a
/// stop does later (there are no connections yet to end).
enum StartupSignals {
    /// The socket's path, for the handler, which can read only globals. Written once,
    /// before the handler is installed.
    nonisolated(unsafe) private static var socketPath: UnsafeMutablePointer<CChar>?

    /// - Parameter path: the socket file to remove, nil when it is not the service's.
    static func stopCleanly(removing path: String?) {
        socketPath = path.map { strdup($0) }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if let path = StartupSignals.socketPath { unlink(path) }
            _exit(0)
        }
        sigemptyset(&action.sa_mask)
        for signal in [SIGTERM, SIGINT] { sigaction(signal, &action, nil) }
    }
}
