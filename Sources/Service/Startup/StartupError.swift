import DmabufScanner
import DmabufSystem
import VarlinkServer

/// Why dmabufd could not start: one line for the operator, and the kind of failure,
/// which decides the exit status (sysexits.h, as dmabufd(8) lists them).
public struct StartupError: Error, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The kernel cannot run the program: too old, no BTF, lockdown. EX_UNAVAILABLE.
        case kernelUnavailable
        /// The socket or the metrics address cannot be set up. EX_CANTCREAT.
        case cannotServe
        /// Not privileged enough to load the program. EX_NOPERM.
        case noPermission
        /// A file or unit to fix: the policy file, a passed socket. EX_CONFIG.
        case configuration
        /// Anything else: the verifier refused the program, privileges cannot be dropped.
        case other
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    public var exitCode: Int32 {
        switch kind {
        case .kernelUnavailable: 69
        case .cannotServe: 73
        case .noPermission: 77
        case .configuration: 78
        case .other: 1
        }
    }
}

/// An error of a start-up step, which knows what kind of start-up failure it is.
protocol StartupFailure: Error, CustomStringConvertible {
    var startupKind: StartupError.Kind { get }
}

extension StartupFailure {
    var startupError: StartupError { StartupError(startupKind, description) }
}

/// Runs one start-up step; its failure becomes a `StartupError` of its kind.
func startupStep<Value, Failure: StartupFailure>(_ body: () throws(Failure) -> Value) throws(StartupError) -> Value {
    do {
        return try body()
    } catch {
        throw error.startupError
    }
}

extension ScannerError: StartupFailure {
    var startupKind: StartupError.Kind {
        switch self {
        case .iteratorMissing, .noKernelBTF, .lockdown: .kernelUnavailable
        case .missingPrivileges: .noPermission
        default: .other
        }
    }
}

extension SocketFileError: StartupFailure {
    var startupKind: StartupError.Kind { .cannotServe }
}

extension MetricsListenerError: StartupFailure {
    var startupKind: StartupError.Kind { .cannotServe }
}

extension SocketActivationError: StartupFailure {
    var startupKind: StartupError.Kind { .configuration }
}

extension PolicyFileError: StartupFailure {
    var startupKind: StartupError.Kind { .configuration }
}

extension StartupError {
    /// Prints the one line on standard error and exits with the kind's status.
    func terminate() -> Never {
        Descriptor.printError("dmabufd: \(description)\n")
        exit(exitCode)
    }
}
