import Testing

@testable import DmabufProtocol

@Suite("Varlink replies and errors")
struct ReplyTests {
    @Test func roundTrip() throws {
        let replies = [
            Reply(),
            Reply(parameters: ["version": "0.1.0", "clients": 3]),
            Reply(parameters: ["matches": []], continues: true),
            Reply(error: .invalidName(name: "x", reason: "empty")),
            Reply(error: .shuttingDown()),
        ]
        for reply in replies {
            #expect(try Reply(decoding: reply.encoded()) == reply)
        }
    }

    @Test func encoding() {
        func text(_ reply: Reply) -> String { String(decoding: reply.encoded(), as: UTF8.self) }
        #expect(text(Reply()) == #"{"parameters":{}}"#)
        #expect(text(Reply(parameters: ["a": 1], continues: true)) == #"{"continues":true,"parameters":{"a":1}}"#)
        #expect(
            text(Reply(error: .invalidParameter("names")))
                == #"{"error":"org.varlink.service.InvalidParameter","parameters":{"parameter":"names"}}"#)
    }

    @Test func parametersMayBeOmitted() throws {
        #expect(try Reply(decoding: Array("{}".utf8)) == Reply())
        let error = try Reply(decoding: Array(#"{"error":"org.varlink.service.PermissionDenied"}"#.utf8))
        #expect(error.varlinkError == .permissionDenied())
        #expect(try Reply(decoding: Array(#"{"error":null,"parameters":null}"#.utf8)).error == nil)
    }

    @Test func malformedReplies() {
        for text in ["[]", "x", #"{"continues":"yes"}"#, #"{"error":7}"#, #"{"parameters":[]}"#] {
            #expect(throws: VarlinkError.self, "\(text)") { try Reply(decoding: Array(text.utf8)) }
        }
    }

    @Test func varlinkErrorOfAReply() {
        #expect(Reply().varlinkError == nil)
        let error = VarlinkError.tooManyNames(limit: 256)
        #expect(Reply(error: error).varlinkError == error)
    }

    @Test func serviceErrors() {
        #expect(
            VarlinkError.interfaceNotFound("x.Y")
                == VarlinkError(name: "org.varlink.service.InterfaceNotFound", parameters: ["interface": "x.Y"]))
        #expect(
            VarlinkError.methodNotFound("x.Y.Z")
                == VarlinkError(name: "org.varlink.service.MethodNotFound", parameters: ["method": "x.Y.Z"]))
        #expect(
            VarlinkError.methodNotImplemented("x.Y.Z")
                == VarlinkError(name: "org.varlink.service.MethodNotImplemented", parameters: ["method": "x.Y.Z"]))
        #expect(
            VarlinkError.invalidParameter("names")
                == VarlinkError(name: "org.varlink.service.InvalidParameter", parameters: ["parameter": "names"]))
        #expect(VarlinkError.expectedMore() == VarlinkError(name: "org.varlink.service.ExpectedMore"))
        #expect(VarlinkError.permissionDenied() == VarlinkError(name: "org.varlink.service.PermissionDenied"))
        #expect(VarlinkError.permissionDenied().interface == "org.varlink.service")
    }

    @Test func monitorErrors() {
        #expect(
            VarlinkError.invalidName(name: "n", reason: "r")
                == VarlinkError(name: "io.dmabufd.Monitor.InvalidName", parameters: ["name": "n", "reason": "r"]))
        #expect(
            VarlinkError.tooManyNames(limit: 256)
                == VarlinkError(name: "io.dmabufd.Monitor.TooManyNames", parameters: ["limit": 256]))
        #expect(
            VarlinkError.capacityExhausted(capacity: 16384)
                == VarlinkError(name: "io.dmabufd.Monitor.CapacityExhausted", parameters: ["capacity": 16384]))
        #expect(VarlinkError.shuttingDown() == VarlinkError(name: "io.dmabufd.Monitor.ShuttingDown"))
        #expect(
            VarlinkError.invalidMessage(reason: "r")
                == VarlinkError(name: "io.dmabufd.Monitor.InvalidMessage", parameters: ["reason": "r"]))
    }

    @Test func errorDescription() {
        #expect(VarlinkError.shuttingDown().description == "io.dmabufd.Monitor.ShuttingDown")
        #expect(
            VarlinkError.invalidParameter("names").description
                == #"org.varlink.service.InvalidParameter {"parameter":"names"}"#)
    }
}
