/// Writes the Prometheus text exposition format, version 0.0.4: each family's HELP and
/// TYPE lines, then its samples, label values escaped.
struct ExpositionWriter {
    enum Kind: String {
        case counter, gauge, histogram
    }

    typealias Labels = KeyValuePairs<String, String>

    private(set) var text = ""

    mutating func family(_ name: String, _ kind: Kind, help: String) {
        text += "# HELP \(name) \(escaped(help, quotes: false))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    mutating func sample(_ name: String, _ value: Int, labels: Labels = [:]) {
        sample(name, labels, rendered: String(value))
    }

    mutating func sample(_ name: String, _ value: Double, labels: Labels = [:]) {
        sample(name, labels, rendered: Self.rendered(value))
    }

    /// A histogram family: its cumulative buckets, sum and count.
    mutating func histogram(_ name: String, help: String, _ histogram: Histogram) {
        family(name, .histogram, help: help)
        for (bound, count) in histogram.cumulative {
            sample("\(name)_bucket", count, labels: ["le": Self.rendered(bound)])
        }
        sample("\(name)_bucket", histogram.count, labels: ["le": "+Inf"])
        sample("\(name)_sum", histogram.sum)
        sample("\(name)_count", histogram.count)
    }

    private mutating func sample(_ name: String, _ labels: Labels, rendered value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(escaped($0.value, quotes: true))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    /// Go's float syntax, which Prometheus parses: Swift's shortest round-trip form fits,
    /// but for the infinities and NaN.
    private static func rendered(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        return String(value)
    }

    /// HELP text escapes backslash and newline; label values also the double quote. By
    /// scalar, not Character: "\r\n" is one Character, yet its "\n" must be escaped.
    private func escaped(_ text: String, quotes: Bool) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": result.append(contentsOf: "\\n".unicodeScalars)
            case "\"" where quotes: result.append(contentsOf: "\\\"".unicodeScalars)
            default: result.append(scalar)
            }
        }
        return String(result)
    }
}
