import ArgumentParser
import DmabufClient
import DmabufProtocol
import DmabufSystem

extension ExitCode {
    static let invalidInput = ExitCode(65)
    static let serviceUnavailable = ExitCode(69)
    static let cannotCreate = ExitCode(73)
    static let atLimit = ExitCode(75)
    static let protocolError = ExitCode(76)
    static let permissionDenied = ExitCode(77)
    /// timeout(1)'s: no sysexits.h code says "no answer in time".
    static let timedOut = ExitCode(124)
}

/// A failure the user can act on: one line on stderr and the documented exit code.
struct CLIFailure: Error, CustomStringConvertible {
    let message: String
    let exitCode: ExitCode

    var description: String { message }

    init(message: String, exitCode: ExitCode) {
        self.message = message
        self.exitCode = exitCode
    }

    init(_ error: ClientError) {
        switch error {
        case .replyError(let reply): self.init(reply)
        case .serviceNotRunning: self.init(message: error.description, exitCode: .serviceUnavailable)
        case .permissionDenied: self.init(message: error.description, exitCode: .permissionDenied)
        case .timedOut: self.init(message: error.description, exitCode: .timedOut)
        default: self.init(message: error.description, exitCode: .protocolError)
        }
    }

    init(_ error: VarlinkError) {
        message = "dmabufd refused the call: \(error)"
        switch error.name {
        case ServiceInterface.ErrorName.permissionDenied: exitCode = .permissionDenied
        case MonitorInterface.ErrorName.tooManyNames, MonitorInterface.ErrorName.capacityExhausted: exitCode = .atLimit
        case MonitorInterface.ErrorName.invalidName, ServiceInterface.ErrorName.invalidParameter:
            exitCode = .invalidInput
        case MonitorInterface.ErrorName.shuttingDown: exitCode = .serviceUnavailable
        default: exitCode = .protocolError
        }
    }
}

extension CLIFailure {
    /// Why `--follow` ended, for a user following: the service going away is 69 however it
    /// went (ShuttingDown, or the connection closed), not a reply we could not read.
    init(following error: ClientError) {
        switch error {
        case .connectionClosed:
            self.init(message: "dmabufd closed the connection (it stopped or restarted)", exitCode: .serviceUnavailable)
        case .replyError(let reply) where reply.name == MonitorInterface.ErrorName.shuttingDown:
            self.init(message: "dmabufd is shutting down (\(reply.name))", exitCode: .serviceUnavailable)
        case .replyError(let reply) where reply.name == MonitorInterface.ErrorName.subscriberStalled:
            self.init(
                message: "dmabufd ended the subscription: its replies were not read for too long (\(reply))",
                exitCode: .atLimit)
        default:
            self.init(error)
        }
    }
}

/// Runs a command body, printing a failure as one line and exiting with its code.
func reportingFailures(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let failure as CLIFailure {
        Descriptor.printError("dmabufctl: \(failure.message)\n")
        throw failure.exitCode
    }
}
