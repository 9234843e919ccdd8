import Testing

@testable import DmabufProtocol

private func names(_ strings: String...) throws -> [WatchName] {
    try strings.map { (string: String) throws(NameError) in try WatchName(validating: string) }
}

/// The parameters as the peer would see them: through JSON text and back.
private func overTheWire(_ parameters: [String: JSON]) throws -> [String: JSON] {
    let call = try Call(decoding: Call(method: "io.dmabufd.Monitor.X", parameters: parameters).encoded())
    return call.parameters
}

private func parameters(_ text: String) throws -> [String: JSON] {
    try #require(try JSON(decoding: Array(text.utf8)).objectValue)
}

private let scanInfo = ScanInfo(
    id: 42, startedUsec: 1_764_000_000_000_000, durationNsec: 7_000_000, buffers: 10_000, bytes: 1 << 40)
private let buffer = Buffer(inode: 123_456, size: 4096, name: "camera0", exporter: "udmabuf")

@Suite("io.dmabufd.Monitor types")
struct MonitorTypesTests {
    @Test func bufferRoundTrip() throws {
        #expect(try Buffer(json: try JSON(decoding: buffer.json.encoded())) == buffer)
        #expect(buffer.json == ["inode": 123_456, "size": 4096, "name": "camera0", "exporter": "udmabuf"])
    }

    @Test func bufferFromKernelBytes() {
        var name = [UInt8](repeating: 0, count: 32)
        name.replaceSubrange(0..<3, with: [0x63, 0xFF, 0x64])  // "c", an invalid byte, "d"
        let exporter = Array("system".utf8) + [0, 0x41, 0]
        let buffer = Buffer(inode: 1, size: 2, nameBytes: name, exporterBytes: exporter)
        #expect(buffer.name == "c\u{FFFD}d")
        #expect(buffer.exporter == "system")
        #expect(Buffer.kernelString([UInt8](repeating: 0, count: 32)) == "")
        #expect(Buffer.kernelString(Array("café".utf8)) == "café")
    }

    @Test func matchRoundTrip() throws {
        let matches = [
            Match(name: "camera", prefix: true, count: 2, bytes: 8192, buffers: [buffer, buffer]),
            Match(name: "gone", prefix: false, count: 0, bytes: 0),
            Match(name: "odd", prefix: false, present: true, count: 0, bytes: 0, buffers: []),
        ]
        for match in matches {
            #expect(try Match(json: try JSON(decoding: match.json.encoded())) == match)
        }
        #expect(matches[0].present)
        #expect(!matches[1].present)
        #expect(matches[1].json.objectValue?["buffers"] == nil)
    }

    @Test func scanInfoRoundTrip() throws {
        let dropped = ScanInfo(id: 1, startedUsec: 2, durationNsec: 3, buffers: 4, bytes: 5, detailsDropped: 6)
        for info in [scanInfo, dropped] {
            #expect(try ScanInfo(json: try JSON(decoding: info.json.encoded())) == info)
        }
        #expect(
            String(decoding: dropped.json.encoded(), as: UTF8.self)
                == #"{"buffers":4,"bytes":5,"details_dropped":6,"duration_nsec":3,"id":1,"started_usec":2}"#)
        #expect(scanInfo.json.objectValue?["details_dropped"] == nil)
        #expect(
            ScanInfo(id: 1, startedUsec: 2, durationNsec: 3, buffers: 4, bytes: 5, detailsDropped: 0).detailsDropped
                == nil)
    }

    @Test func watchParametersRoundTrip() throws {
        for value in [
            WatchParameters(names: try names("a", "b")),
            WatchParameters(names: [], prefixes: try names("cam")),
        ] {
            #expect(try WatchParameters(parameters: try overTheWire(value.parameters)) == value)
        }
    }

    @Test func watchReplyRoundTrip() throws {
        let value = WatchReply(names: ["a", "b"], prefixes: ["cam"])
        #expect(try WatchReply(parameters: try overTheWire(value.parameters)) == value)
    }

    @Test func scanParametersRoundTrip() throws {
        for value in [
            ScanParameters(),
            ScanParameters(names: try names("a"), prefixes: try names("p"), details: true),
            ScanParameters(details: false),
        ] {
            #expect(try ScanParameters(parameters: try overTheWire(value.parameters)) == value)
        }
        #expect(ScanParameters().parameters.isEmpty)
    }

    @Test func subscribeParametersRoundTrip() throws {
        for value in [SubscribeParameters(), SubscribeParameters(intervalMsec: 250, details: true)] {
            #expect(try SubscribeParameters(parameters: try overTheWire(value.parameters)) == value)
        }
        #expect(throws: VarlinkError.invalidParameter("interval_msec")) {
            try SubscribeParameters(parameters: ["interval_msec": -1])
        }
    }

    @Test func scanReplyRoundTrip() throws {
        let value = ScanReply(
            matches: [Match(name: "camera0", prefix: false, count: 1, bytes: 4096, buffers: [buffer])], scan: scanInfo)
        #expect(try ScanReply(parameters: try overTheWire(value.parameters)) == value)
    }

    @Test func listReplyRoundTrip() throws {
        let value = ListReply(
            buffers: [
                buffer, Buffer(inode: 2, size: 0, name: "", exporter: "system"),
                Buffer(inode: 3, size: 8192, name: "held", exporter: "system", references: 3),
            ], scan: scanInfo)
        #expect(try ListReply(parameters: try overTheWire(value.parameters)) == value)
        // A service that does not count references leaves the field out; nil reads back.
        guard case .object(let plain) = value.buffers[0].json, case .object(let counted) = value.buffers[2].json else {
            Issue.record("a Buffer is a JSON object")
            return
        }
        #expect(plain.keys.sorted() == ["exporter", "inode", "name", "size"])
        #expect(counted["references"] == .integer(3))
    }

    @Test func statusReplyRoundTrip() throws {
        for mapEntries in [nil, 12] {
            let value = StatusReply(
                version: "0.1.0", kernel: "6.18.0", clients: 3, watched: 12, capacity: 16_384, scans: 99,
                mapEntries: mapEntries)
            #expect(try StatusReply(parameters: try overTheWire(value.parameters)) == value)
        }
    }

    @Test func serviceInterfaceTypesRoundTrip() throws {
        let info = GetInfoReply(
            vendor: "dmabufd", product: "dmabufd", version: "0.1.0", url: "https://example.invalid",
            interfaces: ["org.varlink.service", "io.dmabufd.Monitor"])
        #expect(try GetInfoReply(parameters: try overTheWire(info.parameters)) == info)
        let ask = GetInterfaceDescriptionParameters(interface: "io.dmabufd.Monitor")
        #expect(try GetInterfaceDescriptionParameters(parameters: try overTheWire(ask.parameters)) == ask)
        let text = GetInterfaceDescriptionReply(description: MonitorInterface.description)
        #expect(try GetInterfaceDescriptionReply(parameters: try overTheWire(text.parameters)) == text)
    }

    @Test func noParameters() throws {
        #expect(try NoParameters(parameters: [:]) == NoParameters())
        #expect(throws: VarlinkError.invalidParameter("verbose")) { try NoParameters(parameters: ["verbose": true]) }
    }
}

@Suite("Parameter errors")
struct ParameterErrorTests {
    @Test func unknownFieldIsNamed() throws {
        #expect(throws: VarlinkError.invalidParameter("nmaes")) {
            try WatchParameters(parameters: try parameters(#"{"nmaes":["a"]}"#))
        }
        #expect(throws: VarlinkError.invalidParameter("detail")) {
            try ScanParameters(parameters: try parameters(#"{"names":["a"],"detail":true}"#))
        }
        #expect(throws: VarlinkError.invalidParameter("depth")) {
            try GetInterfaceDescriptionParameters(parameters: ["interface": "a.B", "depth": 1])
        }
    }

    @Test func firstUnknownFieldInSortedOrder() {
        #expect(throws: VarlinkError.invalidParameter("a")) {
            try ScanParameters(parameters: ["z": 1, "a": 2, "details": true])
        }
    }

    @Test func missingRequiredField() {
        #expect(throws: VarlinkError.invalidParameter("names")) { try WatchParameters(parameters: [:]) }
        #expect(throws: VarlinkError.invalidParameter("names")) { try WatchParameters(parameters: ["names": nil]) }
        #expect(throws: VarlinkError.invalidParameter("interface")) {
            try GetInterfaceDescriptionParameters(parameters: [:])
        }
    }

    @Test func wrongFieldType() {
        #expect(throws: VarlinkError.invalidParameter("names")) { try WatchParameters(parameters: ["names": "a"]) }
        #expect(throws: VarlinkError.invalidParameter("names")) {
            try WatchParameters(parameters: ["names": ["a", 1]])
        }
        #expect(throws: VarlinkError.invalidParameter("prefixes")) {
            try WatchParameters(parameters: ["names": [], "prefixes": [[]]])
        }
        #expect(throws: VarlinkError.invalidParameter("details")) { try ScanParameters(parameters: ["details": "yes"]) }
        #expect(throws: VarlinkError.invalidParameter("interval_msec")) {
            try SubscribeParameters(parameters: ["interval_msec": 1.5])
        }
        #expect(throws: VarlinkError.invalidParameter("interface")) {
            try GetInterfaceDescriptionParameters(parameters: ["interface": 1])
        }
    }

    @Test func optionalFieldsAcceptMissingAndNull() throws {
        let null = try ScanParameters(parameters: try parameters(#"{"names":null,"prefixes":null,"details":null}"#))
        #expect(null == ScanParameters())
        #expect(try WatchParameters(parameters: ["names": ["a"], "prefixes": nil]).prefixes == nil)
        #expect(try SubscribeParameters(parameters: ["interval_msec": nil]) == SubscribeParameters())
    }

    @Test func invalidNames() throws {
        #expect(throws: VarlinkError.invalidName(name: "", reason: "empty")) {
            try WatchParameters(parameters: ["names": ["ok", ""]])
        }
        #expect(throws: VarlinkError.invalidName(name: "a\u{0}b", reason: "contains a NUL byte")) {
            try WatchParameters(parameters: try parameters(#"{"names":["a\u0000b"]}"#))
        }
        let long = String(repeating: "n", count: 32)
        #expect(throws: VarlinkError.invalidName(name: long, reason: "is 32 bytes; the kernel keeps at most 31")) {
            try ScanParameters(parameters: ["prefixes": .array([.string(long)])])
        }
        let utf8 = String(repeating: "ü", count: 15) + "!"
        #expect(try WatchParameters(parameters: ["names": .array([.string(utf8)])]).names.map(\.string) == [utf8])
    }

    @Test func jsonSpecialCharactersInNamesRoundTrip() throws {
        let value = WatchParameters(names: try names("q\"uote", "back\\slash", "new\nline", "tab\tbed"))
        #expect(try WatchParameters(parameters: try overTheWire(value.parameters)) == value)
    }

    @Test func integerAcceptedForFloat() throws {
        let reader = try ParameterReader(["ratio": 2, "exact": 0.5], allowing: ["ratio", "exact"])
        #expect(try reader.double("ratio") == 2.0)
        #expect(try reader.double("exact") == 0.5)
        #expect(try reader.optionalDouble("missing") == nil)
        #expect(throws: VarlinkError.invalidParameter("exact")) { try reader.int("exact") }
    }

    @Test func replyFieldErrorsNameTheirPath() throws {
        var bad = ScanReply(
            matches: [Match(name: "a", prefix: false, count: 1, bytes: 1, buffers: [buffer])], scan: scanInfo
        ).parameters
        bad["matches"] = [
            [
                "name": "a", "prefix": false, "present": true, "count": 1, "bytes": 1,
                "buffers": [["inode": "x", "size": 1, "name": "", "exporter": ""]],
            ]
        ]
        #expect(throws: VarlinkError.invalidParameter("matches[0].buffers[0].inode")) {
            try ScanReply(parameters: bad)
        }
        #expect(throws: VarlinkError.invalidParameter("scan")) {
            try ScanReply(parameters: ["matches": [], "scan": 1])
        }
        #expect(throws: VarlinkError.invalidParameter("scan.id")) {
            try ScanReply(parameters: ["matches": [], "scan": [:]])
        }
    }

    @Test func repliesIgnoreUnknownFields() throws {
        var newer = StatusReply(version: "9", kernel: "k", clients: 0, watched: 0, capacity: 1, scans: 0).parameters
        newer["uptime_sec"] = 5
        #expect(try StatusReply(parameters: newer).version == "9")
    }
}
