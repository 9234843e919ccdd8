import CJansson

extension JSON {
    /// The compact JSON text of this value, written by jansson: no white space,
    /// object keys sorted (the same value always gives the same bytes), UTF-8
    /// left as it is, NUL and control characters escaped, so the text never
    /// holds a raw NUL byte.
    ///
    /// Floats are written with 17 significant digits (jansson's default), which
    /// reads back to the same `Double`. JSON has no NaN or infinity: such a
    /// float is written as `null`.
    public func encoded() -> [UInt8] {
        let tree = JSON.makeTree(self)
        // The tree is ours: one reference, released once it has been written.
        defer { json_decref(tree) }
        var output: [UInt8] = []
        let status = withUnsafeMutablePointer(to: &output) { output in
            json_dump_callback(
                tree,
                { chunk, size, context in
                    guard let context else { return -1 }
                    let output = context.assumingMemoryBound(to: [UInt8].self)
                    output.pointee.append(contentsOf: UnsafeRawBufferPointer(start: chunk, count: size))
                    return 0
                },
                output, JSON.encodeFlags)
        }
        // Writing to memory fails only when memory runs out.
        precondition(status == 0, "jansson could not write a JSON text")
        return output
    }

    /// `encoded()` as a String.
    public func encodedString() -> String { String(decoding: encoded(), as: UTF8.self) }

    private static let encodeFlags = size_t(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

    /// A new jansson tree (one reference, the caller's) holding `value`.
    private static func makeTree(_ value: JSON) -> UnsafeMutablePointer<json_t> {
        let tree: UnsafeMutablePointer<json_t>?
        switch value {
        case .null:
            tree = json_null()
        case .bool(let value):
            tree = value ? json_true() : json_false()
        case .integer(let value):
            tree = json_integer(json_int_t(value))
        case .double(let value):
            tree = value.isFinite ? json_real(value) : json_null()
        case .string(let value):
            tree = withUTF8(value) { json_stringn_nocheck($0, $1) }
        case .array(let elements):
            tree = json_array()
            for element in elements {
                // json_array_append_new takes over the element's reference.
                guard json_array_append_new(tree, makeTree(element)) == 0 else { outOfMemory() }
            }
        case .object(let members):
            tree = json_object()
            for (key, member) in members {
                // json_object_setn_new_nocheck takes over the member's reference;
                // "nocheck": a Swift String is valid UTF-8 already.
                let status = withUTF8(key) { json_object_setn_new_nocheck(tree, $0, $1, makeTree(member)) }
                guard status == 0 else { outOfMemory() }
            }
        }
        guard let tree else { outOfMemory() }
        return tree
    }

    /// A string's UTF-8 bytes as jansson takes them: a pointer and a length (NULs included).
    private static func withUTF8<R>(_ string: String, _ body: (UnsafePointer<CChar>, Int) -> R) -> R {
        var string = string
        return string.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress else { return "".withCString { body($0, 0) } }
                return body(base, chars.count)
            }
        }
    }

    private static func outOfMemory() -> Never {
        fatalError("jansson could not allocate a JSON value: out of memory")
    }
}
