import ArgumentParser
import DmabufScanner

/// `dmabufd-passbench`: the BPF pass alone, the floor the service's Scan can reach. Loads
/// the program, watches `--names` names, runs `--passes` passes and prints one JSON
/// object: what the passes saw and how long each took (the program's run, measured
/// around BPF_PROG_TEST_RUN). For `make bench`; not installed.
@main
struct PassBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dmabufd-passbench", abstract: "Time the bare BPF pass (needs root).")

    @Option(help: "Names to watch: NAME-PREFIX0 … NAME-PREFIX(N-1).")
    var names = 0

    @Option(help: "What the watched names are called, before their number.")
    var namePrefix = "bench-"

    @Option(help: "Passes to run and time, after one that is not timed.")
    var passes = 20

    @Option(help: "Per-buffer records to collect: none, matched or all.")
    var collect = "none"

    func validate() throws {
        guard passes >= 1 else { throw ValidationError("--passes must be at least 1") }
        guard ["none", "matched", "all"].contains(collect) else {
            throw ValidationError("--collect must be none, matched or all")
        }
    }

    func run() throws {
        let program = try DmabufProgram(capacity: max(names, 1))
        try program.insert((0..<names).map { index in .name(Array("\(namePrefix)\(index)".utf8)) })
        let collecting: BufferCollection = collect == "all" ? .all : collect == "matched" ? .matched : .none
        _ = try program.runPass(collecting: collecting)  // warm: first-touch of the maps' pages
        var durations: [Int64] = []
        var last: PassTotals?
        for _ in 0..<passes {
            let report = try program.runPass(collecting: collecting)
            durations.append(report.totals.durationNsec)
            last = report.totals
        }
        let matched = (0..<names).reduce(UInt64(0)) {
            $0 + program.stats(for: .name(Array("\(namePrefix)\($1)".utf8))).count
        }
        print(
            """
            {"buffers": \(last?.buffers ?? 0), "bytes": \(last?.bytes ?? 0), "names": \(names), \
            "matched_buffers": \(matched), "collect": "\(collect)", \
            "durations_nsec": [\(durations.map(String.init).joined(separator: ", "))]}
            """)
    }
}
