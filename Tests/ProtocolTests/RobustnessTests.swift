import Testing

@testable import DmabufProtocol

@Suite("Hostile input")
struct RobustnessTests {
    /// Mutated and truncated calls are either read or refused with InvalidMessage; nothing else happens.
    @Test func mutatedCallsAreReadOrRefused() {
        var random = SeededGenerator(state: 0x9E37_79B9_7F4A_7C15)
        let seed = Array(
            #"{"method":"io.dmabufd.Monitor.Scan","parameters":{"names":["cam\u00e9ra",""],"details":true},"more":true}"#
                .utf8)
        let alphabet = Array(#"{}[]":,\0 u"#.utf8) + [0, 0xFF, 0xC3, 0x80]
        var refused = 0
        for _ in 0..<5_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let index = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[index] = alphabet.randomElement(using: &random)!
                case 1: bytes.remove(at: index)
                default: bytes.insert(alphabet.randomElement(using: &random)!, at: index)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            do {
                let call = try Call(decoding: bytes)
                // Whatever was read writes back as a call that reads the same.
                #expect(try Call(decoding: call.encoded()) == call)
                _ = try? ScanParameters(parameters: call.parameters)
            } catch {
                #expect(error.name == "io.dmabufd.Monitor.InvalidMessage")
                refused += 1
            }
        }
        #expect(refused > 0)
    }

    @Test func framerTakesAnySplitOfAStream() throws {
        var random = SeededGenerator(state: 42)
        let messages = (0..<50).map { Call(method: "a.B", parameters: ["n": .integer(Int64($0))]).framed() }
        let stream = messages.flatMap { $0 }
        for _ in 0..<50 {
            var framer = MessageFramer()
            var taken: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                let size = min(Int.random(in: 1...40, using: &random), stream.count - offset)
                framer.append(stream[offset..<offset + size])
                offset += size
                while let message = try framer.nextMessage() { taken.append(message) }
            }
            #expect(taken == messages.map { Array($0.dropLast()) })
        }
    }
}
