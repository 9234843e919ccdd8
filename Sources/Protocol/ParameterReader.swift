/// Reads the fields of a call's or a reply's `parameters`, or of a struct
/// inside them, with Varlink's rules, and names the field in every error:
///
/// - a field of the wrong type, or a required field that is missing, is
///   `org.varlink.service.InvalidParameter` with the field's name (or its path
///   inside a struct: `matches[0].count`);
/// - an optional (`?`) field may be missing or `null`;
/// - a JSON integer is accepted where a float is declared;
/// - with `allowing` a set of names, any other field is `InvalidParameter`
///   naming it (what the service does with a call); with `allowing: nil`,
///   unknown fields are ignored (what a client does with a reply, so that a
///   newer service may add fields).
public struct ParameterReader: Sendable {
    public let fields: [String: JSON]
    /// Where these fields sit: "" at the top of `parameters`, else e.g. `scan` or `matches[2]`.
    public let path: String

    /// Fails on the first field (in sorted order) not in `allowing`, unless that is nil.
    public init(_ fields: [String: JSON], allowing known: Set<String>?, path: String = "") throws(VarlinkError) {
        self.fields = fields
        self.path = path
        if let known, let unknown = fields.keys.filter({ !known.contains($0) }).min() {
            throw .invalidParameter(fieldPath(unknown))
        }
    }

    /// A struct inside the parameters: `value` must be an object.
    public init(_ value: JSON, allowing known: Set<String>?, path: String) throws(VarlinkError) {
        guard case .object(let fields) = value else { throw .invalidParameter(path) }
        try self.init(fields, allowing: known, path: path)
    }

    /// The name errors use for `key`.
    public func fieldPath(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// A field that must be present and not `null`.
    public func required<T>(_ key: String, _ read: (JSON, String) throws(VarlinkError) -> T) throws(VarlinkError)
        -> T
    {
        guard let value = fields[key], !value.isNull else { throw .invalidParameter(fieldPath(key)) }
        return try read(value, fieldPath(key))
    }

    /// A `?` field: nil when missing or `null`.
    public func optional<T>(_ key: String, _ read: (JSON, String) throws(VarlinkError) -> T) throws(VarlinkError)
        -> T?
    {
        guard let value = fields[key], !value.isNull else { return nil }
        return try read(value, fieldPath(key))
    }
}

// Readers of one value, for `required` and `optional`; `path` names it in the error.
extension ParameterReader {
    public static func int(_ value: JSON, at path: String) throws(VarlinkError) -> Int {
        guard let int = value.intValue else { throw .invalidParameter(path) }
        return int
    }

    /// A float; a JSON integer is accepted.
    public static func double(_ value: JSON, at path: String) throws(VarlinkError) -> Double {
        guard let double = value.doubleValue else { throw .invalidParameter(path) }
        return double
    }

    public static func bool(_ value: JSON, at path: String) throws(VarlinkError) -> Bool {
        guard let bool = value.boolValue else { throw .invalidParameter(path) }
        return bool
    }

    public static func string(_ value: JSON, at path: String) throws(VarlinkError) -> String {
        guard let string = value.stringValue else { throw .invalidParameter(path) }
        return string
    }

    /// `[]string`; any element that is not a string makes the whole field invalid.
    public static func strings(_ value: JSON, at path: String) throws(VarlinkError) -> [String] {
        guard let array = value.arrayValue else { throw .invalidParameter(path) }
        var strings: [String] = []
        strings.reserveCapacity(array.count)
        for element in array {
            guard let string = element.stringValue else { throw .invalidParameter(path) }
            strings.append(string)
        }
        return strings
    }

    /// `[]T` for a struct or other type T; an element's errors name it as `path[index]`.
    public static func array<T>(
        _ value: JSON, at path: String, element read: (JSON, String) throws(VarlinkError) -> T
    ) throws(VarlinkError) -> [T] {
        guard let array = value.arrayValue else { throw .invalidParameter(path) }
        var elements: [T] = []
        elements.reserveCapacity(array.count)
        for (index, element) in array.enumerated() {
            elements.append(try read(element, "\(path)[\(index)]"))
        }
        return elements
    }
}

// The common cases, spelled short.
extension ParameterReader {
    public func int(_ key: String) throws(VarlinkError) -> Int { try required(key, Self.int) }
    public func optionalInt(_ key: String) throws(VarlinkError) -> Int? { try optional(key, Self.int) }
    public func double(_ key: String) throws(VarlinkError) -> Double { try required(key, Self.double) }
    public func optionalDouble(_ key: String) throws(VarlinkError) -> Double? { try optional(key, Self.double) }
    public func bool(_ key: String) throws(VarlinkError) -> Bool { try required(key, Self.bool) }
    public func optionalBool(_ key: String) throws(VarlinkError) -> Bool? { try optional(key, Self.bool) }
    public func string(_ key: String) throws(VarlinkError) -> String { try required(key, Self.string) }
    public func optionalString(_ key: String) throws(VarlinkError) -> String? { try optional(key, Self.string) }
    public func strings(_ key: String) throws(VarlinkError) -> [String] { try required(key, Self.strings) }
    public func optionalStrings(_ key: String) throws(VarlinkError) -> [String]? { try optional(key, Self.strings) }
}
