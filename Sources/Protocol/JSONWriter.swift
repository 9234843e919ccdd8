/// Writes compact JSON text straight into bytes: the hot path's encoder, for replies
/// that go out with every pass (Scan, Subscribe, Watch), where building a `JSON` tree
/// and then jansson's own tree per reply cost several times the pass itself.
///
/// It writes what jansson writes with `JSON_COMPACT | JSON_SORT_KEYS` byte for byte:
/// no white space; `"`, `\` and control characters escaped as jansson escapes them;
/// other UTF-8 as it is. Keys are not sorted here: each type writes its members in
/// byte order of their keys (`JSONWritable`). jansson stays the oracle: the tests encode
/// the same values both ways and require the same bytes (`JSONWriterTests`, and the
/// protocol fuzz target for every reply it reads).
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Whether the container being written already has a member or element, so the next
    /// one needs a comma first.
    private var hasMembers: [Bool] = []

    public init(reservingCapacity capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// Writes an object whose members `body` writes with `member`, in key order.
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        open(UInt8(ascii: "{"))
        body(&self)
        close(UInt8(ascii: "}"))
    }

    /// Writes an array whose elements `body` writes, each with a value call or `element`.
    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        open(UInt8(ascii: "["))
        body(&self)
        close(UInt8(ascii: "]"))
    }

    /// `"key":` and then whatever `value` writes. `key` must need no escaping (every key
    /// of io.dmabufd.Monitor is lower-case ASCII with underscores).
    public mutating func member(_ key: StaticString, _ value: (inout JSONWriter) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        value(&self)
    }

    /// An array of `elements`, each written by `write`.
    public mutating func array<Elements: Sequence>(
        _ elements: Elements, _ write: (inout JSONWriter, Elements.Element) -> Void
    ) {
        array { writer in
            for element in elements { writer.element { write(&$0, element) } }
        }
    }

    /// One array element: the comma before it when it is not the first.
    public mutating func element(_ value: (inout JSONWriter) -> Void) {
        separate()
        value(&self)
    }

    public mutating func integer(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func bool(_ value: Bool) {
        bytes.append(contentsOf: value ? "true".utf8 : "false".utf8)
    }

    public mutating func null() {
        bytes.append(contentsOf: "null".utf8)
    }

    /// A string, escaped as jansson escapes it.
    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { appendEscaped($0) }
    }

    /// Bytes some earlier writer produced for a whole value (an encoded watch's name).
    public mutating func raw(_ encoded: [UInt8]) {
        bytes.append(contentsOf: encoded)
    }

    /// Any JSON value, object keys in byte order as jansson sorts them.
    public mutating func value(_ json: JSON) {
        switch json {
        case .null: null()
        case .bool(let value): bool(value)
        case .integer(let value): bytes.append(contentsOf: String(value).utf8)
        case .double:
            // No reply of this interface carries a float: jansson writes one, as before.
            bytes.append(contentsOf: json.encoded())
        case .string(let value): string(value)
        case .array(let elements): array(elements) { $0.value($1) }
        case .object(let members):
            let sorted = members.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            object { writer in
                for (key, member) in sorted {
                    writer.separate()
                    writer.string(key)
                    writer.bytes.append(UInt8(ascii: ":"))
                    writer.value(member)
                }
            }
        }
    }

    private mutating func open(_ bracket: UInt8) {
        bytes.append(bracket)
        hasMembers.append(false)
    }

    private mutating func close(_ bracket: UInt8) {
        hasMembers.removeLast()
        bytes.append(bracket)
    }

    private mutating func separate() {
        guard let last = hasMembers.indices.last else { return }
        if hasMembers[last] { bytes.append(UInt8(ascii: ",")) }
        hasMembers[last] = true
    }

    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var plainStart = 0
        for index in utf8.indices {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[plainStart..<index]))
            plainStart = index + 1
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case 0x08: bytes.append(contentsOf: #"\b"#.utf8)
            case 0x0C: bytes.append(contentsOf: #"\f"#.utf8)
            case 0x0A: bytes.append(contentsOf: #"\n"#.utf8)
            case 0x0D: bytes.append(contentsOf: #"\r"#.utf8)
            case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                bytes.append(contentsOf: #"\u00"#.utf8)
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            }
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[plainStart...]))
        bytes.append(UInt8(ascii: "\""))
    }
}

/// A protocol type that writes itself with `JSONWriter`, members in key order, exactly
/// as its `json` property encodes through jansson.
public protocol JSONWritable {
    func write(to writer: inout JSONWriter)
}
