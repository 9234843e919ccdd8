/// Why bytes could not be read as JSON.
public enum JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// jansson refused the text: bad syntax, bad UTF-8, a duplicate key, trailing bytes, a number too big.
    case syntax(message: String, line: Int, column: Int, position: Int)
    /// Containers (arrays, objects) nested deeper than the limit.
    case tooDeep(limit: Int)

    public var description: String {
        switch self {
        case .syntax(let message, let line, let column, _):
            return "\(message) (line \(line), column \(column))"
        case .tooDeep(let limit):
            return "arrays and objects are nested more than \(limit) deep"
        }
    }
}
