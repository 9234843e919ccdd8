import Testing

@testable import DmabufProtocol

@Suite("Varlink calls")
struct CallTests {
    func decode(_ text: String) throws(VarlinkError) -> Call {
        try Call(decoding: Array(text.utf8))
    }

    /// The decoder's refusal, as a reason string; nil when it accepted the text.
    func refusal(_ text: String) -> String? {
        do {
            _ = try decode(text)
            return nil
        } catch {
            #expect(error.name == "io.dmabufd.Monitor.InvalidMessage")
            #expect(error.parameters.keys.sorted() == ["reason"])
            return error.parameters["reason"]?.stringValue
        }
    }

    @Test func roundTrip() throws {
        let calls = [
            Call(method: "io.dmabufd.Monitor.Status"),
            Call(method: "io.dmabufd.Monitor.Scan", parameters: ["names": ["a", "b"], "details": true]),
            Call(method: "io.dmabufd.Monitor.Subscribe", parameters: ["interval_msec": 500], more: true),
            Call(method: "io.dmabufd.Monitor.Watch", parameters: ["names": ["x"]], oneway: true),
            Call(method: "org.example.Upgrade", upgrade: true),
        ]
        for call in calls {
            #expect(try Call(decoding: call.encoded()) == call)
        }
    }

    @Test func interfaceAndMember() {
        let call = Call(method: "io.dmabufd.Monitor.Scan")
        #expect(call.interface == "io.dmabufd.Monitor")
        #expect(call.member == "Scan")
        #expect(Call(method: "Scan").interface == "")
        #expect(Call(method: "Scan").member == "Scan")
    }

    @Test func falseFlagsAreNotWritten() {
        let text = String(decoding: Call(method: "a.B").encoded(), as: UTF8.self)
        #expect(text == #"{"method":"a.B","parameters":{}}"#)
        let more = String(decoding: Call(method: "a.B", more: true).encoded(), as: UTF8.self)
        #expect(more == #"{"method":"a.B","more":true,"parameters":{}}"#)
    }

    @Test func encodedHasNoNul() {
        let call = Call(method: "a.B", parameters: ["names": ["x\u{0}y"]])
        #expect(!call.encoded().contains(0))
    }

    @Test func missingNullAndEmptyParametersAreTheSame() throws {
        let missing = try decode(#"{"method":"a.B"}"#)
        let null = try decode(#"{"method":"a.B","parameters":null}"#)
        let empty = try decode(#"{"method":"a.B","parameters":{}}"#)
        #expect(missing == null)
        #expect(null == empty)
        #expect(empty.parameters.isEmpty)
    }

    @Test func unknownTopLevelKeysAreIgnored() throws {
        let call = try decode(#"{"method":"a.B","future":[1,2],"parameters":{"x":1}}"#)
        #expect(call == Call(method: "a.B", parameters: ["x": 1]))
    }

    @Test func falseAndNullFlagsAreAccepted() throws {
        let call = try decode(#"{"method":"a.B","more":false,"oneway":null,"upgrade":false}"#)
        #expect(call == Call(method: "a.B"))
        #expect(try decode(#"{"method":"a.B","more":false,"oneway":true}"#).oneway)
    }

    @Test func notJSON() {
        #expect(refusal("hello")?.contains("not valid JSON") == true)
        #expect(refusal("")?.contains("not valid JSON") == true)
        #expect(refusal(#"{"method":"a.B"} trailing"#)?.contains("not valid JSON") == true)
    }

    @Test func notAnObject() {
        #expect(refusal(#"["a.B"]"#) == "the message is a JSON array, not an object")
        #expect(refusal(#""a.B""#) == "the message is a JSON string, not an object")
        #expect(refusal("null") == "the message is a JSON null, not an object")
    }

    @Test func noMethod() {
        #expect(refusal(#"{"parameters":{}}"#) == #"the "method" field is missing"#)
        #expect(refusal(#"{"method":null}"#) == #"the "method" field is missing"#)
        #expect(refusal(#"{"method":""}"#) == #""method" is empty"#)
    }

    @Test func methodNotAString() {
        #expect(refusal(#"{"method":42}"#) == #""method" is an integer, not a string"#)
        #expect(refusal(#"{"method":["a.B"]}"#) == #""method" is an array, not a string"#)
    }

    @Test func parametersNotAnObject() {
        #expect(refusal(#"{"method":"a.B","parameters":[1]}"#) == #""parameters" is an array, not an object"#)
        #expect(refusal(#"{"method":"a.B","parameters":"x"}"#) == #""parameters" is a string, not an object"#)
    }

    @Test func wrongTypedFlags() {
        #expect(refusal(#"{"method":"a.B","more":1}"#) == #""more" is an integer, not a boolean"#)
        #expect(refusal(#"{"method":"a.B","oneway":"yes"}"#) == #""oneway" is a string, not a boolean"#)
        #expect(refusal(#"{"method":"a.B","upgrade":{}}"#) == #""upgrade" is an object, not a boolean"#)
    }

    @Test(arguments: [
        #"{"method":"a.B","more":true,"oneway":true}"#,
        #"{"method":"a.B","more":true,"upgrade":true}"#,
        #"{"method":"a.B","oneway":true,"upgrade":true}"#,
        #"{"method":"a.B","more":true,"oneway":true,"upgrade":true}"#,
    ])
    func moreThanOneFlag(text: String) {
        #expect(refusal(text) == #"at most one of "more", "oneway" and "upgrade" may be true"#)
    }

    @Test func tooDeep() {
        let deep =
            #"{"method":"a.B","parameters":{"x":"# + String(repeating: "[", count: 40)
            + String(repeating: "]", count: 40) + "}}"
        #expect(refusal(deep)?.contains("nested more than 32 deep") == true)
        let shallow = #"{"method":"a.B","parameters":{"x":[[1]]}}"#
        #expect(throws: VarlinkError.self) { try Call(decoding: Array(shallow.utf8), maxDepth: 3) }
    }

    @Test func nulInAMethodNameIsKept() throws {
        #expect(try decode(#"{"method":"a.B\u0000C"}"#).method == "a.B\u{0}C")
    }

    @Test func fromParsedJSON() throws {
        #expect(try Call(json: ["method": "a.B", "more": true]) == Call(method: "a.B", more: true))
        #expect(throws: VarlinkError.self) { try Call(json: [1]) }
    }
}
