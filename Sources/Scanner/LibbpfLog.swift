import CLibbpf
import Synchronization

/// Keeps libbpf quiet and remembers its last lines, so a failed load can say
/// the verifier's verdict in one line instead of printing a page of log.
enum LibbpfLog {
    private static let maxLines = 64
    private static let lines = Mutex<[String]>([])

    /// Installs the print callback (process-wide in libbpf; installing twice is harmless).
    static func install() {
        _ = libbpf_set_print { level, format, args in
            // Debug output is CO-RE relocation chatter, nothing to show an operator.
            guard level != LIBBPF_DEBUG, let format, let args else { return 0 }
            var buffer = [CChar](repeating: 0, count: 8192)
            buffer.withUnsafeMutableBufferPointer { CLibbpf_format_tail($0.baseAddress, $0.count, format, args) }
            let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            LibbpfLog.append(text)
            return 0
        }
    }

    /// Forgets what was logged, so the next failure's lines are its own.
    static func reset() {
        lines.withLock { $0.removeAll() }
    }

    /// The most useful line of what libbpf logged since `reset`, if any.
    static func lastMeaningfulLine() -> String? {
        meaningfulLine(in: lines.withLock { $0 })
    }

    private static func append(_ text: String) {
        let new = text.split(separator: "\n").map(String.init)
        lines.withLock {
            $0.append(contentsOf: new)
            if $0.count > maxLines { $0.removeFirst($0.count - maxLines) }
        }
    }

    /// Picks the verifier's verdict (the last line of the program load log
    /// that is not a statistic), else the last line that is not a generic
    /// "failed to load" follow-up.
    static func meaningfulLine(in lines: [String]) -> String? {
        let endMarker = "-- END PROG LOAD LOG --"
        if let end = lines.lastIndex(where: { $0.contains(endMarker) }) {
            // The log may not end with a newline: the verdict can share the marker's line.
            let sameLine = lines[end].components(before: endMarker)
            for line in ([sameLine] + lines[..<end].reversed()) {
                if line.contains("-- BEGIN PROG LOAD LOG --") { break }
                if !isStatistic(line) { return line.trimmed() }
            }
        }
        return lines.last { !isStatistic($0) && !$0.contains("failed to load object") }
            .map { $0.trimmed() }
    }

    private static func isStatistic(_ line: String) -> Bool {
        let t = line.trimmed()
        return t.isEmpty || t.hasPrefix("processed ") || t.hasPrefix("verification time")
            || t.hasPrefix("stack depth")
    }
}

extension String {
    /// Without libbpf's "libbpf: " prefix and surrounding blanks.
    fileprivate func trimmed() -> String {
        var s = Substring(self).drop(while: \.isWhitespace)
        if s.hasPrefix("libbpf: ") { s = s.dropFirst("libbpf: ".count) }
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }

    fileprivate func components(before marker: String) -> String {
        guard let range = firstRange(of: marker) else { return self }
        return String(self[..<range.lowerBound])
    }
}
