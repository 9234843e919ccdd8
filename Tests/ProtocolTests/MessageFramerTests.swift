import Testing

@testable import DmabufProtocol

@Suite("NUL framing")
struct MessageFramerTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func drain(_ framer: inout MessageFramer) throws(FramingError) -> [String] {
        var messages: [String] = []
        while let message = try framer.nextMessage() { messages.append(String(decoding: message, as: UTF8.self)) }
        return messages
    }

    @Test func oneMessage() throws {
        var framer = MessageFramer()
        framer.append(MessageFramer.frame(bytes("{}")))
        #expect(try drain(&framer) == ["{}"])
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func splitAcrossFeeds() throws {
        var framer = MessageFramer()
        let message = MessageFramer.frame(bytes(#"{"method":"a.B"}"#))
        for byte in message.dropLast() {
            framer.append([byte])
            #expect(try framer.nextMessage() == nil)
        }
        framer.append([0])
        #expect(try drain(&framer) == [#"{"method":"a.B"}"#])
    }

    @Test func severalInOneFeed() throws {
        var framer = MessageFramer()
        framer.append(bytes("one\0two\0three\0fou"))
        #expect(try drain(&framer) == ["one", "two", "three"])
        #expect(framer.bufferedByteCount == 3)
        framer.append(bytes("r\0"))
        #expect(try drain(&framer) == ["four"])
    }

    @Test func emptyMessage() throws {
        var framer = MessageFramer()
        framer.append([0, 0])
        #expect(try drain(&framer) == ["", ""])
    }

    @Test func frameAddsOneNul() {
        #expect(MessageFramer.frame(bytes("ab")) == [0x61, 0x62, 0])
    }

    @Test func messageAtTheLimitIsAccepted() throws {
        var framer = MessageFramer(maximumMessageSize: 8)
        framer.append(bytes("12345678"))
        #expect(try framer.nextMessage() == nil)
        framer.append([0])
        #expect(try drain(&framer) == ["12345678"])
    }

    @Test func oversizeIsRefusedBeforeItsNulArrives() throws {
        var framer = MessageFramer(maximumMessageSize: 8)
        framer.append(bytes("ok\0" + "123456789"))
        #expect(try framer.nextMessage() == Array("ok".utf8))
        #expect(throws: FramingError.messageTooLarge(limit: 8)) { try framer.nextMessage() }
        // It stays refused: the stream cannot be trusted any more.
        framer.append([0])
        #expect(throws: FramingError.messageTooLarge(limit: 8)) { try framer.nextMessage() }
    }

    @Test func oversizeWithItsNulInTheSameFeed() {
        var framer = MessageFramer(maximumMessageSize: 8)
        framer.append(bytes("123456789\0"))
        #expect(throws: FramingError.messageTooLarge(limit: 8)) { try framer.nextMessage() }
    }

    @Test func defaultLimitIs64KiB() throws {
        var framer = MessageFramer()
        #expect(framer.maximumMessageSize == 65_536)
        framer.append([UInt8](repeating: 0x20, count: 65_536))
        #expect(try framer.nextMessage() == nil)
        framer.append([0x20])
        #expect(throws: FramingError.messageTooLarge(limit: 65_536)) { try framer.nextMessage() }
    }

    @Test func manyMessagesTrickledInKeepTheBufferSmall() throws {
        var framer = MessageFramer(maximumMessageSize: 64)
        var count = 0
        for index in 0..<10_000 {
            framer.append(bytes("message \(index)\0"))
            count += try drain(&framer).count
        }
        #expect(count == 10_000)
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func framingErrorAsReply() {
        let error = FramingError.messageTooLarge(limit: 65_536).varlinkError
        #expect(error == .invalidMessage(reason: "message exceeds 65536 bytes"))
        let unfinished = FramingError.messageUnfinished(timeout: .milliseconds(300)).varlinkError
        #expect(unfinished == .invalidMessage(reason: "message not finished within 300 ms"))
    }
}
