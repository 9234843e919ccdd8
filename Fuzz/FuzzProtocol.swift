// The protocol decoder under libFuzzer (built by Fuzz/build, run by `make fuzz`).
//
// Each input is a byte stream as a peer could send it. It is cut into messages by
// MessageFramer, the framer the service's connection pipeline wraps (VarlinkServer's
// MessageFrameDecoder adds only a clock), and each message is read as a call the way
// the service reads one (Call(decoding:maxDepth:) at its default depth) and as a reply
// the way a client does; every parameter type reads the parameters it got. Each step must return or throw (typed throws
// makes "only a VarlinkError" a compile-time fact); a trap, a crash, or memory
// that ASan sees misused or leaked is a finding. What is read must also write
// back as bytes that read the same: a trap here when it does not. And every reply
// and reply parameters it reads, written by JSONWriter (the service's encoder), must
// be the very bytes jansson writes for them (the oracle).
import DmabufProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProtocol(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    for message in messages(in: Array(UnsafeRawBufferPointer(start: data, count: count))) {
        checkCall(message)
        checkReply(message)
    }
    return 0
}

/// Small enough that `messageTooLarge` is reachable under the Makefile's
/// `-max_len=1024`; the default of 64 KiB goes through the same code.
let maximumMessageSize = 512

/// The messages of `stream`, framed as they would be when the socket delivers
/// it in pieces, plus its unterminated tail: decoding the tail as well spares
/// libFuzzer from having to learn that a message needs a NUL.
func messages(in stream: [UInt8]) -> [[UInt8]] {
    // Piece sizes come from the input's own bytes, so mutations also move the split points.
    var pieces = MessageFramer(maximumMessageSize: maximumMessageSize)
    let (messages, error) = takeAll(from: &pieces, stream: stream) { offset in 1 + Int(stream[offset]) % 64 }
    // However the stream is split, the framer must find what it finds in one piece.
    var whole = MessageFramer(maximumMessageSize: maximumMessageSize)
    let (wholeMessages, wholeError) = takeAll(from: &whole, stream: stream) { _ in stream.count }
    // (After an error, how much is buffered depends on where the last piece ended.)
    guard messages == wholeMessages, error == wholeError,
        error != nil || pieces.bufferedByteCount == whole.bufferedByteCount
    else { fatalError("the framer's messages depend on how the stream was split") }
    for message in messages {
        precondition(!message.contains(0) && message.count <= maximumMessageSize, "the framer passed a bad message")
    }
    // After an error the stream cannot be trusted (the server closes it): no tail.
    return error == nil ? messages + [Array(stream.suffix(pieces.bufferedByteCount))] : messages
}

/// Feeds `stream` to `framer` in pieces of `pieceSize(offset)` bytes, taking
/// every whole message after each, until the end or the first error.
func takeAll(from framer: inout MessageFramer, stream: [UInt8], pieceSize: (Int) -> Int)
    -> ([[UInt8]], FramingError?)
{
    var messages: [[UInt8]] = []
    var offset = 0
    while offset < stream.count {
        let end = min(stream.count, offset + pieceSize(offset))
        framer.append(stream[offset..<end])
        offset = end
        do {
            while let message = try framer.nextMessage() { messages.append(message) }
        } catch {
            return (messages, error)
        }
    }
    return (messages, nil)
}

/// What the service does with a message: read a call, then its parameters as
/// every method would; a refusal is sent back as an error reply.
func checkCall(_ message: [UInt8]) {
    let call: Call
    do {
        call = try Call(decoding: message)
    } catch {
        checkErrorReply(error)
        return
    }
    guard (try? Call(decoding: call.encoded())) == call else { fatalError("a call did not survive a round trip") }
    // The service dispatches on these two halves of the method name.
    precondition(call.interface.isEmpty || "\(call.interface).\(call.member)" == call.method, "bad name split")
    for type in callParameterTypes { checkParameters(type, call.parameters) }
}

/// What the client does with a message: read a reply, its error, and its parameters as any method's result.
func checkReply(_ message: [UInt8]) {
    let reply: Reply
    do {
        reply = try Reply(decoding: message)
    } catch {
        _ = error.description  // what the client would print
        return
    }
    guard (try? Reply(decoding: reply.encoded())) == reply else { fatalError("a reply did not survive a round trip") }
    guard reply.encoded() == reply.json.encoded() else { fatalError("JSONWriter and jansson wrote a reply apart") }
    if let error = reply.varlinkError { checkErrorReply(error) }
    for type in replyParameterTypes { checkParameters(type, reply.parameters) }
}

/// The error reply the service would send must reach the client as the same error.
func checkErrorReply(_ error: VarlinkError) {
    let sent = Reply(error: error)
    guard let received = try? Reply(decoding: sent.encoded()), received == sent,
        received.varlinkError == error
    else { fatalError("an error reply did not survive a round trip: \(error)") }
}

let callParameterTypes: [any MessageParameters.Type] = [
    WatchParameters.self, ScanParameters.self, SubscribeParameters.self, NoParameters.self,
    GetInterfaceDescriptionParameters.self,
]
let replyParameterTypes: [any MessageParameters.Type] = [
    ScanReply.self, StatusReply.self, ListReply.self, WatchReply.self, MetricsReply.self, ProcessesReply.self,
    CgroupsReply.self, MineReply.self,
    GetInfoReply.self,
    GetInterfaceDescriptionReply.self,
]

/// Reads `parameters` as `T`; a refusal must make a readable error reply, and
/// a value must write back as parameters that read the same.
func checkParameters<T: MessageParameters>(_ type: T.Type, _ parameters: [String: JSON]) {
    let value: T
    do {
        value = try T(parameters: parameters)
    } catch {
        checkErrorReply(error)
        return
    }
    guard (try? T(parameters: value.parameters)) == value else { fatalError("\(T.self) did not survive a round trip") }
    if let writable = value as? any JSONWritable {
        var writer = JSONWriter()
        writable.write(to: &writer)
        guard writer.bytes == JSON.object(value.parameters).encoded() else {
            fatalError("JSONWriter and jansson wrote \(T.self) apart")
        }
    }
}
