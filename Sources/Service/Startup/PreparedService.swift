import DmabufScanner
import Logging
import VarlinkServer

/// What `PrivilegedStartup` hands to `ServiceAssembly`: everything opened while the
/// process was privileged, which it no longer is.
public struct PreparedService {
    let program: DmabufProgram
    let listener: Listener
    /// The metrics endpoint's socket, when `--metrics-address` asks for one.
    let metricsListener: TCPListener?
    let policy: Policy
    /// `--max-connections`, or fewer when the open-file limit allows fewer.
    let maxConnections: Int
    let kernel: String
    let logger: Logger
}
