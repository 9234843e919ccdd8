/// A start-up failure found by dmabufd itself (not by the kernel or a file), said in one
/// line: the open-file limit is too low, privileges cannot be dropped.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
}
