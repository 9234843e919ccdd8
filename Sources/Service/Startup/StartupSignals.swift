import DmabufSystem

/// SIGTERM and SIGINT while the service starts: until the service group takes the
/// signals over, either one exits 0 and removes the files the service made for its
/// socket (the lock it holds, the socket once bound), as a stop does later (there are no
/// connections yet to end). Without a call, the signals keep their default action.
enum StartupSignals {
    /// The socket's and the lock's paths, for the handler, which can read only globals.
    /// Written once, before the handler is installed.
    nonisolated(unsafe) private static var socketPath: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var lockPath: UnsafeMutablePointer<CChar>?

    static func stopCleanly(removing files: (socket: String, lock: String)) {
        socketPath = strdup(files.socket)
        lockPath = strdup(files.lock)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if let path = StartupSignals.socketPath { unlink(path) }
            if let path = StartupSignals.lockPath { unlink(path) }
            _exit(0)
        }
        sigemptyset(&action.sa_mask)
        for signal in [SIGTERM, SIGINT] { sigaction(signal, &action, nil) }
    }
}
