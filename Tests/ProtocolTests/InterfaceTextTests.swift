import Foundation
import Testing

@testable import DmabufProtocol

@Suite("Interface texts")
struct InterfaceTextTests {
    /// Sources/Protocol, found from this file's place in the tree.
    static let protocolFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/Protocol")

    @Test func monitorTextIsTheFileByteForByte() throws {
        let file = try Data(contentsOf: Self.protocolFolder.appendingPathComponent("io.dmabufd.Monitor.varlink"))
        #expect(PackageResources.io_dmabufd_Monitor_varlink == [UInt8](file))
        #expect(Array(MonitorInterface.description.utf8) == [UInt8](file))
    }

    @Test func serviceTextIsTheFileByteForByte() throws {
        let file = try Data(contentsOf: Self.protocolFolder.appendingPathComponent("org.varlink.service.varlink"))
        #expect(PackageResources.org_varlink_service_varlink == [UInt8](file))
        #expect(Array(ServiceInterface.description.utf8) == [UInt8](file))
    }

    @Test func textsDeclareTheirNames() {
        #expect(MonitorInterface.description.contains("\ninterface io.dmabufd.Monitor\n"))
        #expect(ServiceInterface.description.contains("\ninterface org.varlink.service\n"))
    }

    @Test func everyMethodAndErrorIsInTheText() {
        for method in MonitorInterface.Method.allCases {
            #expect(MonitorInterface.description.contains("\nmethod \(method.rawValue)("), "\(method)")
            #expect(method.qualifiedName == "io.dmabufd.Monitor.\(method.rawValue)")
        }
        for error in [
            MonitorInterface.ErrorName.invalidName, MonitorInterface.ErrorName.tooManyNames,
            MonitorInterface.ErrorName.capacityExhausted, MonitorInterface.ErrorName.shuttingDown,
            MonitorInterface.ErrorName.invalidMessage,
        ] {
            let member = error.split(separator: ".").last!
            #expect(MonitorInterface.description.contains("\nerror \(member) ("), "\(error)")
        }
        for method in ServiceInterface.Method.allCases {
            #expect(ServiceInterface.description.contains("\nmethod \(method.rawValue)("))
        }
    }

    @Test func noAnyType() {
        // Python varlink 31 refuses `object`-typed ("any") fields; keep the text to plain types.
        for text in [MonitorInterface.description, ServiceInterface.description] {
            for spelling in [": object", ":object", "?object", "]object"] {
                #expect(!text.contains(spelling))
            }
        }
    }

    @Test func socketPath() {
        #expect(MonitorInterface.defaultSocketPath == "/run/dmabufd/dmabufd.sock")
        #expect(MonitorInterface.socketPath(environment: [:]) == "/run/dmabufd/dmabufd.sock")
        #expect(MonitorInterface.socketPath(environment: ["DMABUFD_SOCKET": ""]) == "/run/dmabufd/dmabufd.sock")
        #expect(MonitorInterface.socketPath(environment: ["DMABUFD_SOCKET": "/tmp/x.sock"]) == "/tmp/x.sock")
    }

    @Test func methodCall() {
        let call = MonitorInterface.Method.subscribe.call(parameters: ["details": true], more: true)
        #expect(call == Call(method: "io.dmabufd.Monitor.Subscribe", parameters: ["details": true], more: true))
    }
}
