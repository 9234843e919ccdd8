import DmabufProtocol
import DmabufSystem

/// Why a policy file was refused: the file, and where in it (line and column for bad
/// JSON, the key's path for a bad value), so the fix is one look away.
public struct PolicyFileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let problem: String

    public var description: String { "policy \(path): \(problem)" }
}

/// Reads a policy file (`dmabufd --policy PATH`), parsed with jansson:
///
///     {
///       "default": {"methods": ["Watch", "Unwatch", "Scan", "Subscribe", "Status"],
///                   "max_names": 256, "max_connections": 128, "details": true},
///       "rules": [
///         {"uid": 0, "methods": ["*"], "max_names": null, "max_connections": null},
///         {"group": "video", "methods": ["*"], "max_names": 1024}
///       ],
///       "reserve": {"names": 1024, "connections": 256, "users": ["root", "monitoring"]}
///     }
///
/// `reserve` keeps `names` of the capacity and `connections` of `--max-connections` for
/// the uids it lists (`uids` by number, `users` by name); a field it leaves out keeps the
/// built-in value (a sixteenth of each, for root).
/// `all_processes: true` lets `Processes` show every process, not only the caller's
/// own uid's. `pass_interval_msec` spaces the passes one uid asks for (built in: 100 for
/// non-root; `null`: none). `default` is the grant of peers no rule names; a field it leaves out keeps the built-in
/// default's value. Each rule names one subject (`uid`, `gid`, `user` or `group`; names are
/// resolved when the file is read) and the fields it grants; a field it leaves out comes
/// from `default`. The first rule that names a peer decides. `"*"` in `methods` is every
/// method; `null` for `max_names` or `max_connections` means no limit of its own.
public enum PolicyFile {
    private static let grantKeys: Set<String> = [
        "methods", "max_names", "max_connections", "details", "all_processes", "pass_interval_msec",
    ]
    private static let subjectKeys: Set<String> = ["uid", "gid", "user", "group"]
    private static let reserveKeys: Set<String> = ["names", "connections", "uids", "users"]

    public static func load(_ path: String, builtIn: Policy) throws(PolicyFileError) -> Policy {
        let bytes = try read(path)
        let root: JSON
        do {
            root = try JSON(decoding: bytes, maxDepth: 8)
        } catch {
            throw PolicyFileError(path: path, problem: "not valid JSON: \(error)")
        }
        do throws(PolicyProblem) {
            return try policy(from: root, builtIn: builtIn)
        } catch {
            throw PolicyFileError(path: path, problem: "\(error.key): \(error.message)")
        }
    }

    private static func policy(from root: JSON, builtIn: Policy) throws(PolicyProblem) -> Policy {
        let top = try object(root, at: "", allowing: ["default", "rules", "reserve"])
        let fallback = try top["default"].map { value throws(PolicyProblem) in
            try grant(try object(value, at: "default", allowing: grantKeys), at: "default", over: builtIn.fallback)
        } ?? builtIn.fallback
        let reserve = try top["reserve"].map { value throws(PolicyProblem) in
            try self.reserve(try object(value, at: "reserve", allowing: reserveKeys), over: builtIn.reserve)
        } ?? builtIn.reserve
        guard let rulesValue = top["rules"] else { return Policy(rules: [], fallback: fallback, reserve: reserve) }
        guard case .array(let elements) = rulesValue else { throw PolicyProblem("rules", "must be an array of rules") }
        var rules: [Policy.Rule] = []
        for (index, element) in elements.enumerated() {
            let at = "rules[\(index)]"
            let fields = try object(element, at: at, allowing: grantKeys.union(subjectKeys))
            rules.append(
                Policy.Rule(
                    subject: try subject(fields, at: at), grant: try grant(fields, at: at, over: fallback)))
        }
        return Policy(rules: rules, fallback: fallback, reserve: reserve)
    }

    private static func reserve(_ fields: [String: JSON], over base: ReservedShare) throws(PolicyProblem)
        -> ReservedShare
    {
        var reserve = base
        for (key, field) in [("names", \ReservedShare.names), ("connections", \ReservedShare.connections)] {
            guard let value = fields[key] else { continue }
            guard let count = value.intValue, count >= 0 else {
                throw PolicyProblem("reserve.\(key)", "must be a whole number, 0 or more")
            }
            reserve[keyPath: field] = count
        }
        if fields["uids"] != nil || fields["users"] != nil { reserve.uids = [] }
        if let value = fields["uids"] {
            guard case .array(let ids) = value else { throw PolicyProblem("reserve.uids", "must be an array of uids") }
            for (index, id) in ids.enumerated() { reserve.uids.insert(try self.id(id, at: "reserve.uids[\(index)]")) }
        }
        if let value = fields["users"] {
            guard case .array(let names) = value else {
                throw PolicyProblem("reserve.users", "must be an array of user names")
            }
            for (index, name) in names.enumerated() {
                let at = "reserve.users[\(index)]"
                let name = try string(name, at: at)
                guard let entry = getpwnam(name) else { throw PolicyProblem(at, "no user named \"\(name)\"") }
                reserve.uids.insert(entry.pointee.pw_uid)
            }
        }
        return reserve
    }

    private static func subject(_ fields: [String: JSON], at path: String) throws(PolicyProblem) -> Policy.Subject {
        let named = subjectKeys.filter { fields[$0] != nil }.sorted()
        guard named.count == 1, let key = named.first, let value = fields[key] else {
            throw PolicyProblem(path, "needs exactly one of \"uid\", \"gid\", \"user\", \"group\"")
        }
        let at = "\(path).\(key)"
        switch key {
        case "uid": return .uid(try id(value, at: at))
        case "gid": return .gid(try id(value, at: at))
        case "user":
            let name = try string(value, at: at)
            guard let entry = getpwnam(name) else { throw PolicyProblem(at, "no user named \"\(name)\"") }
            return .uid(entry.pointee.pw_uid)
        default:
            let name = try string(value, at: at)
            guard let entry = getgrnam(name) else { throw PolicyProblem(at, "no group named \"\(name)\"") }
            return .gid(entry.pointee.gr_gid)
        }
    }

    /// `base` with the grant fields present in `fields` applied.
    private static func grant(_ fields: [String: JSON], at path: String, over base: Grant) throws(PolicyProblem)
        -> Grant
    {
        var grant = base
        if let value = fields["methods"] { grant.methods = try methods(value, at: "\(path).methods") }
        if let value = fields["max_names"] { grant.maxNames = try limit(value, at: "\(path).max_names") }
        if let value = fields["max_connections"] {
            grant.maxConnections = try limit(value, at: "\(path).max_connections")
        }
        if let value = fields["details"] {
            guard case .bool(let details) = value else { throw PolicyProblem("\(path).details", "must be true or false") }
            grant.details = details
        }
        if let value = fields["all_processes"] {
            guard case .bool(let all) = value else {
                throw PolicyProblem("\(path).all_processes", "must be true or false")
            }
            grant.allProcesses = all
        }
        if let value = fields["pass_interval_msec"] {
            grant.passSpacing = try limit(value, at: "\(path).pass_interval_msec").map { .milliseconds($0) }
        }
        return grant
    }

    private static func methods(_ value: JSON, at path: String) throws(PolicyProblem) -> Set<MonitorInterface.Method> {
        guard case .array(let names) = value else { throw PolicyProblem(path, "must be an array of method names") }
        var methods: Set<MonitorInterface.Method> = []
        for (index, name) in names.enumerated() {
            let at = "\(path)[\(index)]"
            let name = try string(name, at: at)
            if name == "*" {
                methods.formUnion(MonitorInterface.Method.allCases)
            } else if let method = MonitorInterface.Method(rawValue: name) {
                methods.insert(method)
            } else {
                let known = MonitorInterface.Method.allCases.map(\.rawValue).joined(separator: ", ")
                throw PolicyProblem(at, "no method \"\(name)\" in \(MonitorInterface.name) (one of \(known), or *)")
            }
        }
        return methods
    }

    /// A count that may be `null` (no limit).
    private static func limit(_ value: JSON, at path: String) throws(PolicyProblem) -> Int? {
        if value.isNull { return nil }
        guard let count = value.intValue, count >= 0 else {
            throw PolicyProblem(path, "must be a whole number, 0 or more, or null for no limit")
        }
        return count
    }

    private static func id(_ value: JSON, at path: String) throws(PolicyProblem) -> UInt32 {
        guard let number = value.intValue, let id = UInt32(exactly: number), id != UInt32.max else {
            throw PolicyProblem(path, "must be a numeric id from 0 to 4294967294")
        }
        return id
    }

    private static func string(_ value: JSON, at path: String) throws(PolicyProblem) -> String {
        guard case .string(let string) = value else { throw PolicyProblem(path, "must be a string") }
        return string
    }

    private static func object(_ value: JSON, at path: String, allowing known: Set<String>) throws(PolicyProblem)
        -> [String: JSON]
    {
        guard case .object(let fields) = value else {
            throw PolicyProblem(path.isEmpty ? "the file" : path, "must be a JSON object")
        }
        if let unknown = fields.keys.filter({ !known.contains($0) }).min() {
            let key = path.isEmpty ? unknown : "\(path).\(unknown)"
            throw PolicyProblem(key, "unknown key (expected one of \(known.sorted().joined(separator: ", ")))")
        }
        return fields
    }

    /// The file whole; a policy is a few rules, so more than 1 MiB is a mistake.
    private static func read(_ path: String) throws(PolicyFileError) -> [UInt8] {
        do {
            return try readFile(path, limit: 1 << 20)
        } catch .tooLarge {
            throw PolicyFileError(path: path, problem: "larger than 1 MiB")
        } catch {
            throw PolicyFileError(path: path, problem: error.description)
        }
    }
}

/// A bad value in the file: the key's path (`rules[1].group`) and what is wrong.
private struct PolicyProblem: Error {
    let key: String
    let message: String

    init(_ key: String, _ message: String) {
        self.key = key
        self.message = message
    }
}
