import DmabufProtocol

/// A type of the Varlink interface language, enough of it for `org.varlink.certification`,
/// and reading a value by its type.
///
/// Both sides of the certification read every message by the types its interface declares:
/// the service so that the value a client sent compares equal to the value it should have
/// sent in whatever valid form it came, the client so that it passes on what a service sent
/// as what it means, not as the bytes it happened to be written in.
indirect enum VarlinkType: Sendable {
    case bool, int, float, string
    /// `object`: any JSON object, kept as it is.
    case object
    /// `[string]()`: a set of strings, written as an object whose values are all `{}`.
    case set
    /// `(one, two, three)`
    case enumeration([String])
    case optional(VarlinkType)
    case array(VarlinkType)
    /// `[string]T`
    case map(VarlinkType)
    case structure([Field])

    struct Field: Sendable {
        let name: String
        let type: VarlinkType

        init(_ name: String, _ type: VarlinkType) {
            self.name = name
            self.type = type
        }
    }

    /// `value` checked against this type, in the one form that compares equal however a
    /// peer was allowed to write it: a float is a float even when it came as `1`, and a
    /// missing `?` field of a struct is there as `null`.
    ///
    /// - Parameters:
    ///   - path: names the value in `InvalidParameter`, e.g. `mytype.struct.first`.
    ///   - strict: a struct field the type does not declare is `InvalidParameter` (what a
    ///     service does with a call) instead of being dropped (what a client does with a
    ///     reply, so that a service may add fields).
    func read(_ value: JSON, at path: String, strict: Bool) throws(VarlinkError) -> JSON {
        switch self {
        case .bool: return .bool(try ParameterReader.bool(value, at: path))
        case .int: return .integer(Int64(try ParameterReader.int(value, at: path)))
        case .float: return .double(try ParameterReader.double(value, at: path))
        case .string: return .string(try ParameterReader.string(value, at: path))
        case .object:
            guard value.objectValue != nil else { throw .invalidParameter(path) }
            return value
        case .set:
            guard let members = value.objectValue, members.values.allSatisfy({ $0 == [:] }) else {
                throw .invalidParameter(path)
            }
            return value
        case .enumeration(let names):
            guard let name = value.stringValue, names.contains(name) else { throw .invalidParameter(path) }
            return value
        case .optional(let type):
            return value.isNull ? .null : try type.read(value, at: path, strict: strict)
        case .array(let type):
            return .array(
                try ParameterReader.array(value, at: path) { (element, path) throws(VarlinkError) in
                    try type.read(element, at: path, strict: strict)
                })
        case .map(let type):
            guard let entries = value.objectValue else { throw .invalidParameter(path) }
            var read: [String: JSON] = [:]
            for (key, entry) in entries { read[key] = try type.read(entry, at: "\(path)[\(key)]", strict: strict) }
            return .object(read)
        case .structure(let fields):
            return .object(try Self.read(fields: fields, of: value, at: path, strict: strict))
        }
    }

    /// A struct's fields, or the `parameters` of a message (`path` ""), read as `fields` declares.
    static func read(fields: [Field], of value: JSON, at path: String, strict: Bool) throws(VarlinkError)
        -> [String: JSON]
    {
        let reader = try ParameterReader(value, allowing: strict ? Set(fields.map(\.name)) : nil, path: path)
        var read: [String: JSON] = [:]
        for field in fields {
            read[field.name] = try field.type.read(
                reader.fields[field.name] ?? .null, at: reader.fieldPath(field.name), strict: strict)
        }
        return read
    }
}
