/// The top-level fields of a Varlink message (a call or a reply), read with
/// the rules both share: an unknown key is ignored, `null` is the same as a
/// missing key, and a wrong type is an `InvalidMessage` whose reason names the field.
struct MessageFields {
    let fields: [String: JSON]

    /// Parses `bytes` and insists on a JSON object.
    init(decoding bytes: some Collection<UInt8>, maxDepth: Int, what: String) throws(VarlinkError) {
        let json: JSON
        do {
            json = try JSON(decoding: bytes, maxDepth: maxDepth)
        } catch {
            throw .invalidMessage(reason: "the \(what) is not valid JSON: \(error)")
        }
        try self.init(json, what: what)
    }

    init(_ json: JSON, what: String) throws(VarlinkError) {
        guard case .object(let fields) = json else {
            throw .invalidMessage(reason: "the \(what) is a JSON \(json.kindName), not an object")
        }
        self.fields = fields
    }

    /// A field that must hold a string.
    func requiredString(_ key: String) throws(VarlinkError) -> String {
        guard let value = fields[key], !value.isNull else {
            throw .invalidMessage(reason: "the \"\(key)\" field is missing")
        }
        guard case .string(let string) = value else {
            throw .invalidMessage(reason: "\"\(key)\" is \(value.kindWithArticle), not a string")
        }
        return string
    }

    func optionalString(_ key: String) throws(VarlinkError) -> String? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard case .string(let string) = value else {
            throw .invalidMessage(reason: "\"\(key)\" is \(value.kindWithArticle), not a string")
        }
        return string
    }

    /// A flag such as `more`: missing and `null` are false.
    func flag(_ key: String) throws(VarlinkError) -> Bool {
        guard let value = fields[key], !value.isNull else { return false }
        guard case .bool(let flag) = value else {
            throw .invalidMessage(reason: "\"\(key)\" is \(value.kindWithArticle), not a boolean")
        }
        return flag
    }

    /// `parameters`: missing, `null` and `{}` are the same.
    func parameters() throws(VarlinkError) -> [String: JSON] {
        guard let value = fields["parameters"], !value.isNull else { return [:] }
        guard case .object(let parameters) = value else {
            throw .invalidMessage(reason: "\"parameters\" is \(value.kindWithArticle), not an object")
        }
        return parameters
    }
}
