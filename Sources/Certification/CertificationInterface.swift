import DmabufProtocol

/// `org.varlink.certification`: the interface the Varlink project certifies implementations
/// with. A client calls Start, Test01 … Test11 and End in that order, and passes what each
/// method returned as the parameters of the next one (with the `client_id` Start gave).
enum CertificationInterface {
    static let name = "org.varlink.certification"

    /// The interface text, byte for byte as the PyPI `varlink` package ships it.
    static let description = String(decoding: PackageResources.org_varlink_certification_varlink, as: UTF8.self)

    /// The methods, in the order a client calls them.
    enum Method: String, CaseIterable, Sendable {
        case start = "Start"
        case test01 = "Test01", test02 = "Test02", test03 = "Test03", test04 = "Test04", test05 = "Test05"
        case test06 = "Test06", test07 = "Test07", test08 = "Test08", test09 = "Test09", test10 = "Test10"
        case test11 = "Test11"
        case end = "End"

        var qualifiedName: String { "\(CertificationInterface.name).\(rawValue)" }

        /// The method a client calls after this one; nil after End.
        var next: Method? { neighbour(1) }
        /// The method a client calls before this one; nil before Start.
        var previous: Method? { neighbour(-1) }

        private func neighbour(_ offset: Int) -> Method? {
            let all = Self.allCases
            let index = all.firstIndex(of: self)! + offset
            return all.indices.contains(index) ? all[index] : nil
        }

        /// Test10 must be called with `more`: its replies are a stream.
        var wantsMore: Bool { self == .test10 }
        /// Test11 must be called with `oneway`: it gets no reply.
        var isOneway: Bool { self == .test11 }
    }

    typealias Field = VarlinkType.Field

    // The types below transcribe org.varlink.certification.varlink.

    private static let primitives = [
        Field("bool", .bool), Field("int", .int), Field("float", .float), Field("string", .string),
    ]
    private static let pair = VarlinkType.structure([Field("first", .int), Field("second", .string)])

    private static let interface = VarlinkType.structure([
        Field("foo", .optional(.array(.optional(.map(.enumeration(["foo", "bar", "baz"])))))),
        Field("anon", .structure([Field("foo", .bool), Field("bar", .bool)])),
    ])

    private static let myType = VarlinkType.structure([
        Field("object", .object),
        Field("enum", .enumeration(["one", "two", "three"])),
        Field("struct", pair),
        Field("array", .array(.string)),
        Field("dictionary", .map(.string)),
        Field("stringset", .set),
        Field("nullable", .optional(.string)),
        Field("nullable_array_struct", .optional(.array(pair))),
        Field("interface", interface),
    ])

    /// What `method` returns.
    static func replyFields(of method: Method) -> [Field] {
        switch method {
        case .start: [Field("client_id", .string)]
        case .test01: [Field("bool", .bool)]
        case .test02: [Field("int", .int)]
        case .test03: [Field("float", .float)]
        case .test04: [Field("string", .string)]
        case .test05: primitives
        case .test06: [Field("struct", .structure(primitives))]
        case .test07: [Field("map", .map(.string))]
        case .test08: [Field("set", .set)]
        case .test09: [Field("mytype", myType)]
        case .test10: [Field("string", .string)]
        case .test11: []
        case .end: [Field("all_ok", .bool)]
        }
    }

    /// What `method` takes: the `client_id`, and from Test02 to Test10 exactly what the
    /// method before it returned; Test11 takes the strings of Test10's replies.
    static func parameterFields(of method: Method) -> [Field] {
        let clientID = Field("client_id", .string)
        switch method {
        case .start: return []
        case .test01, .end: return [clientID]
        case .test11: return [clientID, Field("last_more_replies", .array(.string))]
        default: return [clientID] + replyFields(of: method.previous!)
        }
    }
}

extension VarlinkError {
    /// The `client_id` was never given by Start, or its sequence ended (with End, or with a wrong call).
    static func clientIdError() -> VarlinkError {
        VarlinkError(name: "\(CertificationInterface.name).ClientIdError")
    }

    /// A call that is not the one the sequence expects: `wants` is that one, `got` this one.
    static func certificationError(wants: JSON, got: JSON) -> VarlinkError {
        VarlinkError(
            name: "\(CertificationInterface.name).CertificationError", parameters: ["wants": wants, "got": got])
    }
}
