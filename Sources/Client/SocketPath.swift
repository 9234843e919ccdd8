import DmabufProtocol
import DmabufSystem

extension VarlinkConnection {
    /// `$DMABUFD_SOCKET` when set and not empty, else `/run/dmabufd/dmabufd.sock`.
    public static func defaultSocketPath() -> String {
        var environment: [String: String] = [:]
        if let value = getenv(MonitorInterface.socketEnvironmentVariable) {
            environment[MonitorInterface.socketEnvironmentVariable] = String(cString: value)
        }
        return MonitorInterface.socketPath(environment: environment)
    }
}
