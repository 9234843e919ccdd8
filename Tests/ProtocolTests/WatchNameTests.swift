import Testing

@testable import DmabufProtocol

@Suite("Name rules")
struct WatchNameTests {
    @Test func ordinaryNames() throws {
        #expect(try WatchName(validating: "camera0").string == "camera0")
        #expect(try WatchName(validating: "a").bytes == [0x61])
        #expect(WatchName.maxBytes == 31)
    }

    @Test func emptyName() {
        #expect(throws: NameError(name: "", reason: "empty")) { try WatchName(validating: "") }
    }

    @Test func thirtyTwoBytes() {
        let name = String(repeating: "x", count: 32)
        #expect(throws: NameError(name: name, reason: "is 32 bytes; the kernel keeps at most 31")) {
            try WatchName(validating: name)
        }
    }

    @Test func thirtyOneBytesOfUTF8() throws {
        // 15 two-byte letters and one ASCII byte: 31 bytes, 16 characters.
        let name = String(repeating: "é", count: 15) + "x"
        #expect(name.utf8.count == 31)
        #expect(try WatchName(validating: name).bytes.count == 31)
        // One more two-byte letter: 33 bytes, though only 17 characters.
        let longer = String(repeating: "é", count: 16) + "x"
        #expect(throws: NameError(name: longer, reason: "is 33 bytes; the kernel keeps at most 31")) {
            try WatchName(validating: longer)
        }
    }

    @Test func nulByte() {
        #expect(throws: NameError(name: "a\u{0}b", reason: "contains a NUL byte")) {
            try WatchName(validating: "a\u{0}b")
        }
    }

    @Test func equalityIsByBytes() throws {
        let composed = try WatchName(validating: "\u{E9}")
        let decomposed = try WatchName(validating: "e\u{301}")
        #expect(composed.string == decomposed.string, "Swift calls them equal")
        #expect(composed != decomposed, "the kernel does not")
        #expect(Set([composed, decomposed]).count == 2)
    }

    @Test func orderIsByBytes() throws {
        let names = try ["b", "a", "B", "é", "ab"].map { (s: String) throws(NameError) in try WatchName(validating: s) }
        #expect(names.sorted().map(\.string) == ["B", "a", "ab", "b", "é"])
    }

    @Test func nameErrorDescription() {
        let error = NameError(name: "a\u{0}b", reason: "contains a NUL byte")
        #expect(error.description == #"invalid name "a\0b": contains a NUL byte"#)
        #expect(error.varlinkError == .invalidName(name: "a\u{0}b", reason: "contains a NUL byte"))
    }
}
