import DmabufProtocol
import VarlinkServer

/// Serves `org.varlink.certification` the way its interface text and both reference services
/// do: each call must be exactly the one the client's sequence is due to make, and any other
/// call ends the sequence with `CertificationError` saying what was wanted and what came.
struct CertificationInterfaceServer: VarlinkInterfaceServer {
    typealias Method = CertificationInterface.Method

    let interfaceName = CertificationInterface.name
    let interfaceDescription = CertificationInterface.description
    let sessions = CertificationSessions()

    func serve(_ call: Call, from client: ClientContext) async throws(VarlinkError) -> Response {
        guard let method = Method(rawValue: call.member) else { throw .methodNotFound(call.method) }
        if method == .start {
            try check(call, as: method, clientID: nil)
            return .reply(Reply(parameters: ["client_id": .string(await sessions.start())]))
        }
        let clientID = try ParameterReader(call.parameters, allowing: nil).string("client_id")
        try await sessions.take(method, from: clientID)
        do {
            try check(call, as: method, clientID: clientID)
        } catch {
            await sessions.forget(clientID)
            throw error
        }
        if method == .test10 { return .stream(Self.test10Stream()) }
        return .reply(Reply(parameters: Self.answers[method] ?? [:]))
    }

    /// Throws unless `call` is the one due: the parameters what this service answered to the
    /// method before (read by their declared types, so `1` is a fine float and a missing `?`
    /// field a `null` one), `more` on Test10 only, `oneway` on Test11 only.
    private func check(_ call: Call, as method: Method, clientID: String?) throws(VarlinkError) {
        let fields = CertificationInterface.parameterFields(of: method)
        let parameters = try VarlinkType.read(fields: fields, of: .object(call.parameters), at: "", strict: true)
        var expected = Self.expectedParameters(of: method)
        expected["client_id"] = clientID.map(JSON.string)
        let wants = Call(method: call.method, parameters: expected, more: method.wantsMore, oneway: method.isOneway)
        let got = Call(
            method: call.method, parameters: parameters, more: call.more, oneway: call.oneway, upgrade: call.upgrade)
        guard got == wants else { throw .certificationError(wants: wants.json, got: call.json) }
    }

    private static func expectedParameters(of method: Method) -> [String: JSON] {
        switch method {
        case .start, .test01, .end: return [:]
        case .test11: return ["last_more_replies": .array(test10Strings.map(JSON.string))]
        default: return answers[method.previous!] ?? [:]
        }
    }

    // The answers, the same values as the Python reference service (the Go one differs in
    // the keys of `interface.foo[1]`). Each is already in the form `VarlinkType.read` gives.

    private static let primitives: [String: JSON] = [
        "bool": false, "int": 2, "float": .double(.pi), "string": "a lot of string",
    ]

    private static let answers: [Method: [String: JSON]] = [
        .test01: ["bool": true],
        .test02: ["int": 1],
        .test03: ["float": 1.0],
        .test04: ["string": "ping"],
        .test05: primitives,
        .test06: ["struct": .object(primitives)],
        .test07: ["map": ["foo": "Foo", "bar": "Bar"]],
        .test08: ["set": ["one": [:], "two": [:], "three": [:]]],
        .test09: [
            "mytype": [
                "object": [
                    "method": "org.varlink.certification.Test09",
                    "parameters": ["map": ["foo": "Foo", "bar": "Bar"]],
                ],
                "enum": "two",
                "struct": ["first": 1, "second": "2"],
                "array": ["one", "two", "three"],
                "dictionary": ["foo": "Foo", "bar": "Bar"],
                "stringset": ["one": [:], "two": [:], "three": [:]],
                "nullable": nil,
                "nullable_array_struct": nil,
                "interface": [
                    "foo": [nil, ["foo": "foo", "bar": "bar"], nil, ["one": "foo", "two": "bar"]],
                    "anon": ["foo": true, "bar": false],
                ],
            ]
        ],
        .end: ["all_ok": true],
    ]

    private static let test10Strings = (1...10).map { "Reply number \($0)" }

    /// Test10's ten replies, `continues` on all but the last.
    private static func test10Stream() -> ReplyStream {
        let (replies, feed) = AsyncStream.makeStream(of: Reply.self)
        for (index, string) in test10Strings.enumerated() {
            feed.yield(Reply(parameters: ["string": .string(string)], continues: index + 1 < test10Strings.count))
        }
        feed.finish()
        // The server's stream contract asks for the errors that end a stream early; this
        // interface declares none for that, so they are CertificationErrors that say what happened.
        return ReplyStream(
            replies: replies,
            stalled: { timeout in
                Reply(
                    error: .certificationError(
                        wants: ["read_within_msec": .integer(Int64(timeout / .milliseconds(1)))],
                        got: ["read_within_msec": nil]))
            },
            shuttingDown: Reply(error: .certificationError(wants: ["replies": 10], got: ["service": "stopping"])))
    }
}
