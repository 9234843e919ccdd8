import DmabufSystem

/// Frames drawn in place on a terminal: each one moves the cursor back over the one
/// before and clears to the end of the screen, so the view does not scroll.
struct TerminalFrames {
    /// Screen rows the last frame took, its final newline included.
    private var rowsDrawn = 0

    /// What to write to replace the last frame with `frame` (text without a final
    /// newline); the cursor ends at the start of the line below it.
    mutating func redraw(_ frame: String) -> String {
        let columns = TerminalFrames.columns()
        // ESC[nF: to the start of the line n rows up; ESC[J: clear from there to the end.
        let erase = rowsDrawn > 0 ? "\u{1B}[\(rowsDrawn)F\u{1B}[J" : ""
        // A line longer than the screen is wide wraps onto more rows.
        rowsDrawn = frame.split(separator: "\n", omittingEmptySubsequences: false)
            .reduce(0) { rows, line in rows + max(1, (line.count + columns - 1) / columns) }
        return erase + frame + "\n"
    }

    /// The terminal's width; 80 when it does not say.
    private static func columns() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}
