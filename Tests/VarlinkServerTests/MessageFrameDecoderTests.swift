import DmabufProtocol
import NIOCore
import NIOEmbedded
import Testing

@testable import VarlinkServer

/// The server's framing as its pipeline runs it: `MessageFrameDecoder` in a channel, fed
/// as the socket feeds it, on a clock the test moves.
@Suite struct MessageFrameDecoderTests {
    private func channel(
        limit: Int = 16, timeout: Duration = .seconds(1),
        budget: UnfinishedMessageBudget = UnfinishedMessageBudget(limit: 1 << 20),
        backlog: ConnectionBacklog = ConnectionBacklog(counting: UntakenMessages())
    ) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(
                MessageFrameDecoder(maxMessageBytes: limit, messageTimeout: timeout, budget: budget, backlog: backlog)))
        return channel
    }

    @Test func aCallCountsFromItsBytesUntilItIsHandedOnOrDone() throws {
        let untaken = UntakenMessages()
        let backlog = ConnectionBacklog(counting: untaken)
        let other = ConnectionBacklog(counting: untaken)
        let channel = try channel(backlog: backlog)
        try channel.writeInbound(ByteBuffer(string: "{\"a\""))
        #expect(!untaken.any, "half a message is no call yet")
        try channel.writeInbound(ByteBuffer(string: ":1}\0{}\0"))
        #expect(untaken.any)
        backlog.taken()
        #expect(untaken.any, "taken, not yet where it waits")
        backlog.handedOn()
        #expect(!untaken.any, "handed on: the second cannot join what the first waits for")
        other.framed()
        #expect(untaken.any, "another connection's call")
        other.ended()
        #expect(!untaken.any, "a connection that ended counts no longer, whatever it left unread")
        backlog.finished()
        #expect(untaken.any, "idle again, with the second still unread")
        backlog.taken()
        backlog.finished()
        #expect(!untaken.any, "a call done without being handed on (Status, say)")
        other.framed()
        #expect(!untaken.any, "nothing framed after the end counts")
    }

    private func messages(_ channel: EmbeddedChannel) throws -> [String] {
        var read: [String] = []
        while let message = try channel.readInbound(as: [UInt8].self) { read.append(String(decoding: message, as: UTF8.self)) }
        return read
    }

    @Test func messagesComeOutWholeHoweverTheBytesArrive() throws {
        let channel = try channel()
        for piece in ["{\"a\"", ":1}\0{}", "\0", "\0x"] { try channel.writeInbound(ByteBuffer(string: piece)) }
        #expect(try messages(channel) == ["{\"a\":1}", "{}", ""])
        try channel.writeInbound(ByteBuffer(string: "y\0"))
        #expect(try messages(channel) == ["xy"])
    }

    @Test func aMessageOverTheLimitIsRefusedBeforeItsNUL() throws {
        let channel = try channel(limit: 8)
        try channel.writeInbound(ByteBuffer(string: "12345678\0"))
        #expect(try messages(channel) == ["12345678"])
        #expect(throws: FramingError.messageTooLarge(limit: 8)) { try channel.writeInbound(ByteBuffer(string: "123456789")) }
    }

    @Test func unfinishedMessagesShareOneBudgetAcrossConnections() throws {
        let budget = UnfinishedMessageBudget(limit: 10)
        let first = try channel(budget: budget)
        let second = try channel(budget: budget)
        try first.writeInbound(ByteBuffer(string: "123456"))
        #expect(throws: FramingError.unfinishedMessagesOverBudget(limit: 10)) {
            try second.writeInbound(ByteBuffer(string: "12345"))
        }
        // Bytes are charged as they arrive; a finished message gives them back, and a
        // closed connection all of its own.
        try first.writeInbound(ByteBuffer(string: "\0"))
        #expect(try messages(first) == ["123456"])
        let third = try channel(budget: budget)
        try third.writeInbound(ByteBuffer(string: "123456"))
        _ = try first.finish()
        let fourth = try channel(budget: budget)
        try fourth.writeInbound(ByteBuffer(string: "1234"))
        #expect(throws: FramingError.unfinishedMessagesOverBudget(limit: 10)) {
            try fourth.writeInbound(ByteBuffer(string: "5"))
        }
    }

    @Test func aStartedMessageMustEndInTime() throws {
        let channel = try channel(timeout: .seconds(1))
        try channel.writeInbound(ByteBuffer(string: "{\"method\""))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(999))
        try channel.throwIfErrorCaught()
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(throws: FramingError.messageUnfinished(timeout: .seconds(1))) { try channel.throwIfErrorCaught() }
    }

    @Test func eachMessageGetsTheWholeTimeAndIdleTimeIsFree() throws {
        let channel = try channel(timeout: .seconds(1))
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        try channel.writeInbound(ByteBuffer(string: "a"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        try channel.writeInbound(ByteBuffer(string: "\0b"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        try channel.throwIfErrorCaught()
        try channel.writeInbound(ByteBuffer(string: "\0"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        try channel.throwIfErrorCaught()
        #expect(try messages(channel) == ["a", "b"])
    }

    @Test func aPartialMessageAtTheEndIsDropped() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "whole\0part"))
        #expect(try messages(channel) == ["whole"])
        // EOF: the half message has no one left to answer, and nothing comes of it.
        #expect(try channel.finish().isClean)
    }
}
