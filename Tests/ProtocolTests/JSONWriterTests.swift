import Testing

@testable import DmabufProtocol

/// The hot path's encoder against its oracle: every value written by `JSONWriter` must be
/// the bytes jansson writes for the same value's `json` (the encoder replies used before),
/// and so parse with jansson to exactly that value.
@Suite("JSONWriter against jansson")
struct JSONWriterTests {
    /// The VM tier's edge names (31 bytes of 1- to 4-byte characters, quotes, control
    /// characters), U+FFFD where the kernel's bytes were not UTF-8, and a NUL.
    static let edgeNames = [
        "", String(repeating: "x", count: 31), String(repeating: "é", count: 15) + "x",
        String(repeating: "漢字", count: 5) + "x", String(repeating: "😀", count: 7) + "abc", #"q"uote"#,
        #"back\slash"#, "new\nline", "tab\tstop", "\"\\\n\t all four", "ctl\u{01}\u{1f}\u{7f}",
        "/solidus\u{2028}sep", "\u{08}\u{0c}\r", Buffer.kernelString([0x66, 0xFF, 0xC3, 0x28, 0x6F]), "nul\u{0}inside",
    ]

    /// Writes `value` both ways; they must be the same bytes and read back the same.
    func expectSame<Value: JSONWritable>(_ value: Value, _ json: JSON, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        var writer = JSONWriter()
        value.write(to: &writer)
        #expect(
            String(decoding: writer.bytes, as: UTF8.self) == String(decoding: json.encoded(), as: UTF8.self),
            sourceLocation: sourceLocation)
        #expect(try JSON(decoding: writer.bytes) == json, sourceLocation: sourceLocation)
    }

    @Test(arguments: edgeNames)
    func everyEdgeNameIsWrittenAsJanssonWritesIt(name: String) throws {
        let buffer = Buffer(inode: 7, size: 4096, name: name, exporter: name, references: 2)
        let match = Match(
            name: name, prefix: true, count: 1, bytes: 4096, buffers: [buffer],
            holders: [Holder(pid: 1, command: name, bytes: 4096)])
        try expectSame(match, match.json)
        let reply = ScanReply(matches: [match], scan: Self.scanInfo(exporters: [Exporter(name: name, count: 1, bytes: 9)]))
        try expectSame(reply, .object(reply.parameters))
        let watches = WatchReply(names: [name, "b"], prefixes: [name])
        try expectSame(watches, .object(watches.parameters))
    }

    @Test func optionalMembersAreLeftOutAsTheTreeLeavesThemOut() throws {
        let bare = Match(name: "cam", prefix: false, count: 0, bytes: 0)
        try expectSame(bare, bare.json)
        let info = Self.scanInfo(dropped: 3, exporters: nil)
        try expectSame(info, info.json)
        try expectSame(Self.scanInfo(dropped: nil, exporters: []), Self.scanInfo(dropped: nil, exporters: []).json)
        let unreferenced = Buffer(inode: .max, size: 0, name: "", exporter: "system")
        try expectSame(unreferenced, unreferenced.json)
        let list = ListReply(buffers: [unreferenced, Buffer(inode: 1, size: 1, name: "a", exporter: "b", references: 0)],
                             scan: info)
        try expectSame(list, .object(list.parameters))
        let empty = ScanReply(matches: [], scan: info)
        try expectSame(empty, .object(empty.parameters))
    }

    /// Random replies from random names of random bytes (seeded, so a failure repeats).
    @Test func randomRepliesAreWrittenAsJanssonWritesThem() throws {
        var random = SeededGenerator(state: 0x9E37_79B9_7F4A_7C15)
        for _ in 0..<500 {
            let matches = (0..<Int.random(in: 0...6, using: &random)).map { _ in
                let name = Self.randomName(&random)
                let count = Int.random(in: 0...3, using: &random)
                let buffers = Bool.random(using: &random) ? nil : (0..<count).map { index in
                    Buffer(
                        inode: Int.random(in: 1...Int.max, using: &random), size: Int.random(in: 0...(1 << 40), using: &random),
                        name: name, exporter: Self.randomName(&random),
                        references: Bool.random(using: &random) ? index : nil)
                }
                return Match(
                    name: name, prefix: Bool.random(using: &random), count: count,
                    bytes: Int.random(in: 0...Int.max, using: &random), buffers: buffers,
                    holders: Bool.random(using: &random) ? nil : [Holder(pid: 2, command: Self.randomName(&random), bytes: 1)])
            }
            let reply = ScanReply(
                matches: matches,
                scan: Self.scanInfo(
                    dropped: Bool.random(using: &random) ? nil : 1,
                    exporters: Bool.random(using: &random) ? nil : [Exporter(name: Self.randomName(&random), count: 1, bytes: 2)]))
            try expectSame(reply, .object(reply.parameters))
            for continues in [false, true] {
                let written = Reply(writing: reply, continues: continues)
                #expect(written.encoded() == Reply(parameters: reply.parameters, continues: continues).json.encoded())
                #expect(try Reply(decoding: written.encoded()) == written)
            }
        }
    }

    @Test func anyTreeIsWrittenWithItsKeysInByteOrder() throws {
        let tree: JSON = [
            "b": 1, "a": [true, nil, -5, "x\u{1}"], "B": ["é": 1, "e": 2, "z": [:]], "": [], "a_b": "q\"",
        ]
        var writer = JSONWriter()
        writer.value(tree)
        #expect(writer.bytes == tree.encoded())
        let error = Reply(error: .invalidParameter("names"))
        #expect(error.encoded() == error.json.encoded())
        #expect(error.framed() == error.json.encoded() + [0])
    }

    static func scanInfo(dropped: Int? = nil, exporters: [Exporter]?) -> ScanInfo {
        ScanInfo(
            id: 12, startedUsec: 1_733_000_000_000_000, durationNsec: 9_360_000, buffers: 10_000, bytes: 1 << 33,
            detailsDropped: dropped, exporters: exporters)
    }

    /// Up to 31 bytes, any of them, as the kernel would hold a name, read as kernel text.
    static func randomName(_ random: inout SeededGenerator) -> String {
        let bytes = (0..<Int.random(in: 0...31, using: &random)).map { _ in
            UInt8.random(in: 1...255, using: &random)
        }
        return Buffer.kernelString(bytes)
    }
}
