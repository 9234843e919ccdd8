import Testing

@testable import DmabufProtocol

@Suite("JSON through jansson")
struct JSONTests {
    func decode(_ text: String, maxDepth: Int = JSON.defaultMaxDepth) throws(JSONError) -> JSON {
        try JSON(decoding: Array(text.utf8), maxDepth: maxDepth)
    }

    func text(_ json: JSON) -> String { String(decoding: json.encoded(), as: UTF8.self) }

    @Test func scalarsRoundTrip() throws {
        let values: [JSON] = [
            .null, true, false, 0, -1, .integer(.max), .integer(.min), 1.5, -0.25, "", "plain",
            "héllo wörld ✓ 🧪",
        ]
        for value in values {
            #expect(try JSON(decoding: value.encoded()) == value, "\(value)")
        }
    }

    @Test func containersRoundTrip() throws {
        let value: JSON = [
            "array": [1, "two", 3.5, nil, [true], ["nested": [:]]],
            "empty": [],
            "object": ["b": 2, "a": 1],
        ]
        #expect(try JSON(decoding: value.encoded()) == value)
    }

    @Test func encodingIsCompactWithSortedKeys() {
        let value: JSON = ["b": 1, "a": [true, nil], "c": ["z": "x", "y": 2.5]]
        #expect(text(value) == #"{"a":[true,null],"b":1,"c":{"y":2.5,"z":"x"}}"#)
    }

    @Test func piRoundTripsExactly() throws {
        let decoded = try JSON(decoding: JSON.double(.pi).encoded())
        #expect(decoded == .double(.pi))
        #expect(decoded.doubleValue?.bitPattern == Double.pi.bitPattern)
    }

    @Test func awkwardFloatsRoundTrip() throws {
        for value in [0.1, 1e300, -1e-300, Double.leastNonzeroMagnitude, 123_456_789.123_456_78, -0.0, 1.0] {
            let decoded = try JSON(decoding: JSON.double(value).encoded())
            #expect(decoded.doubleValue?.bitPattern == value.bitPattern, "\(value)")
        }
    }

    @Test func nonFiniteFloatsAreWrittenAsNull() {
        #expect(text(.double(.nan)) == "null")
        #expect(text(.double(.infinity)) == "null")
    }

    @Test func integerIsAcceptedAsFloat() throws {
        #expect(try decode("3").doubleValue == 3.0)
        #expect(try decode("3.0").intValue == nil)
    }

    @Test func jsonSpecialCharactersRoundTrip() throws {
        let tricky = "quote \" backslash \\ newline \n tab \t slash / bell \u{7} nul \u{0} end"
        let value: JSON = ["key \"\\\n\t": .string(tricky)]
        let bytes = value.encoded()
        #expect(!bytes.contains(0), "the text must never hold a raw NUL")
        #expect(!bytes.contains(UInt8(ascii: "\n")))
        #expect(try JSON(decoding: bytes) == value)
    }

    @Test func escapedNulReachesTheCaller() throws {
        #expect(try decode(#"{"a":"x\u0000y"}"#) == ["a": "x\u{0}y"])
    }

    @Test func rawNulIsASyntaxError() {
        #expect(throws: JSONError.self) { try JSON(decoding: [0x22, 0x61, 0x00, 0x22]) }
    }

    @Test(arguments: [
        "", "{", "nope", "{\"a\":1}x", "{\"a\":1,\"a\":2}", "[1,]", "{'a':1}", "123456789012345678901234",
    ])
    func invalidTextIsRefused(text: String) {
        #expect(throws: JSONError.self) { try decode(text) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: JSONError.self) { try JSON(decoding: [0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func syntaxErrorSaysWhere() {
        #expect {
            try decode("{\n  \"a\": tru\n}")
        } throws: { error in
            guard case .syntax(_, let line, _, _) = error as? JSONError else { return false }
            return line == 2
        }
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let text = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(throws: Never.self) { try decode(text) }
        let objects = String(repeating: "{\"a\":", count: 31) + "[]" + String(repeating: "}", count: 31)
        #expect(throws: Never.self) { try decode(objects) }
    }

    @Test func nestingBeyondTheLimitIsRefused() {
        let text = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(throws: JSONError.tooDeep(limit: 32)) { try decode(text) }
        #expect(throws: JSONError.tooDeep(limit: 3)) { try decode("[[[[]]]]", maxDepth: 3) }
        #expect(throws: Never.self) { try decode("[[[]]]", maxDepth: 3) }
    }

    @Test func deepNestingFarBeyondTheLimitIsRefusedNotCrashed() {
        let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONError.self) { try decode(text) }
    }

    @Test func decodesFromAnyCollection() throws {
        let bytes = Array(#"xx{"a":1}"#.utf8)
        #expect(try JSON(decoding: bytes[2...]) == ["a": 1])
        #expect(try JSON(decoding: #"[1]"#.utf8) == [1])
    }

    @Test func accessors() {
        let value: JSON = ["i": 1, "d": 1.5, "s": "x", "b": true, "n": nil, "a": [1], "o": [:]]
        guard case .object(let fields) = value else {
            Issue.record("not an object")
            return
        }
        #expect(fields["i"]?.intValue == 1)
        #expect(fields["i"]?.integerValue == 1)
        #expect(fields["d"]?.doubleValue == 1.5)
        #expect(fields["d"]?.intValue == nil)
        #expect(fields["s"]?.stringValue == "x")
        #expect(fields["b"]?.boolValue == true)
        #expect(fields["n"]?.isNull == true)
        #expect(fields["a"]?.arrayValue == [1])
        #expect(fields["o"]?.objectValue == [:])
        #expect(fields["s"]?.kindName == "string")
    }
}
