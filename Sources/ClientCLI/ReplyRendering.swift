import DmabufProtocol

/// A `Scan` reply (or a followed subscription's merged state) for people: the table of
/// matches, with a row per buffer under each when details were asked for and a row per
/// holding process when holders were, then the line about the pass. No newline at the end.
func renderScan(_ reply: ScanReply) -> String {
    var lines: [String] = []
    if !reply.matches.isEmpty {
        var table = Table([
            ("NAME", .left), ("KIND", .left), ("PRESENT", .left), ("COUNT", .right), ("BYTES", .right),
            ("SIZE", .right),
        ])
        for match in reply.matches {
            table.append([
                printable(match.name), match.prefix ? "prefix" : "name", match.present ? "yes" : "no",
                String(match.count), String(match.bytes), humanBytes(match.bytes),
            ])
            // Details: one indented row per buffer, its exporter under KIND.
            for buffer in match.buffers ?? [] {
                table.append([
                    "  inode \(buffer.inode)", printable(buffer.exporter), "", "", String(buffer.size),
                    humanBytes(buffer.size),
                ])
            }
            // Holders: one indented row per process, its command under KIND.
            for holder in match.holders ?? [] {
                table.append([
                    "  pid \(holder.pid)", printable(holder.command), "", "", String(holder.bytes),
                    humanBytes(holder.bytes),
                ])
            }
        }
        lines.append(table.render())
    }
    lines.append(summary(reply.scan))
    return lines.joined(separator: "\n")
}

/// One line about the pass: which, what it saw, how long it took.
func summary(_ scan: ScanInfo) -> String {
    let milliseconds = Double(scan.durationNsec) / 1_000_000
    var line = "pass \(scan.id): \(scan.buffers) buffers, \(humanBytes(scan.bytes)) on the host, "
    line += "\((milliseconds * 1000).rounded() / 1000) ms"
    if let dropped = scan.detailsDropped { line += " (\(dropped) buffers' details did not fit)" }
    return line
}

/// The host's buffers by exporter, then the line about the pass that counted them.
func exporterTable(_ scan: ScanInfo) -> String {
    var table = Table([("EXPORTER", .left), ("COUNT", .right), ("BYTES", .right), ("SIZE", .right)])
    for exporter in scan.exporters ?? [] {
        table.append([printable(exporter.name), String(exporter.count), String(exporter.bytes), humanBytes(exporter.bytes)])
    }
    return (scan.exporters ?? []).isEmpty ? summary(scan) : table.render() + "\n" + summary(scan)
}
