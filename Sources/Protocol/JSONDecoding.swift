import CJansson

extension JSON {
    /// Parses one JSON text of any kind (object, array, string, …) with jansson.
    ///
    /// - A NUL byte escaped inside a string (`\u0000`) is kept, so that callers
    ///   can refuse it by name (`JSON_ALLOW_NUL`); a raw NUL byte is a syntax error.
    /// - Bytes after the value, other than white space, are refused (jansson's end-of-input check stays on).
    /// - An object with the same key twice is refused, so no reader can pick a different one.
    /// - Strings must be valid UTF-8; jansson checks.
    /// - Arrays and objects nested more than `maxDepth` deep are refused (`JSONError.tooDeep`).
    public init(decoding bytes: some Collection<UInt8>, maxDepth: Int = JSON.defaultMaxDepth) throws(JSONError) {
        let result =
            bytes.withContiguousStorageIfAvailable { JSON.parse($0, maxDepth: maxDepth) }
            ?? Array(bytes).withUnsafeBufferPointer { JSON.parse($0, maxDepth: maxDepth) }
        self = try result.get()
    }

    private static let decodeFlags = size_t(JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES)

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> Result<JSON, JSONError> {
        var error = json_error_t()
        let root: UnsafeMutablePointer<json_t>? = bytes.withMemoryRebound(to: CChar.self) { chars in
            guard let base = chars.baseAddress else {
                return "".withCString { json_loadb($0, 0, decodeFlags, &error) }
            }
            return json_loadb(base, chars.count, decodeFlags, &error)
        }
        guard let root else {
            return .failure(
                .syntax(
                    message: errorText(error), line: Int(error.line), column: Int(error.column),
                    position: Int(error.position)))
        }
        // The tree is ours: one reference from json_loadb, released here whatever happens.
        defer { json_decref(root) }
        return Result { () throws(JSONError) -> JSON in try convert(root, depth: 0, maxDepth: maxDepth) }
    }

    /// jansson's message, a NUL-terminated string in a fixed array whose last byte holds an error code.
    private static func errorText(_ error: json_error_t) -> String {
        withUnsafeBytes(of: error.text) { raw in
            let text = raw.prefix(Int(JSON_ERROR_TEXT_LENGTH) - 1)
            return String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Copies a jansson tree into Swift values. `depth` counts the containers around `value`.
    private static func convert(_ value: UnsafeMutablePointer<json_t>, depth: Int, maxDepth: Int) throws(JSONError)
        -> JSON
    {
        switch CJansson_typeof(value) {
        case JSON_OBJECT:
            guard depth < maxDepth else { throw .tooDeep(limit: maxDepth) }
            var object = [String: JSON](minimumCapacity: json_object_size(value))
            var iterator = json_object_iter(value)
            while let position = iterator {
                // Keys may hold escaped NULs too: read them by length, not as C strings.
                let key = String(
                    decoding: UnsafeRawBufferPointer(
                        start: json_object_iter_key(position), count: json_object_iter_key_len(position)),
                    as: UTF8.self)
                object[key] = try convert(json_object_iter_value(position), depth: depth + 1, maxDepth: maxDepth)
                iterator = json_object_iter_next(value, position)
            }
            return .object(object)
        case JSON_ARRAY:
            guard depth < maxDepth else { throw .tooDeep(limit: maxDepth) }
            let count = json_array_size(value)
            var array: [JSON] = []
            array.reserveCapacity(count)
            for index in 0..<count {
                array.append(try convert(json_array_get(value, index), depth: depth + 1, maxDepth: maxDepth))
            }
            return .array(array)
        case JSON_STRING:
            let string = String(
                decoding: UnsafeRawBufferPointer(start: json_string_value(value), count: json_string_length(value)),
                as: UTF8.self)
            return .string(string)
        case JSON_INTEGER:
            return .integer(Int64(json_integer_value(value)))
        case JSON_REAL:
            return .double(json_real_value(value))
        case JSON_TRUE:
            return .bool(true)
        case JSON_FALSE:
            return .bool(false)
        default:
            return .null
        }
    }
}
