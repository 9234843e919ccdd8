/// Splitting qualified Varlink names: `io.dmabufd.Monitor.Scan` is the member
/// `Scan` of the interface `io.dmabufd.Monitor`.
enum VarlinkNames {
    /// Everything before the last dot; "" when there is no dot.
    static func interface(of qualifiedName: String) -> String {
        guard let dot = qualifiedName.lastIndex(of: ".") else { return "" }
        return String(qualifiedName[..<dot])
    }

    /// Everything after the last dot; the whole name when there is no dot.
    static func member(of qualifiedName: String) -> String {
        guard let dot = qualifiedName.lastIndex(of: ".") else { return qualifiedName }
        return String(qualifiedName[qualifiedName.index(after: dot)...])
    }
}
