import DmabufClient
import DmabufProtocol

/// Runs the certification sequence against a service with `VarlinkConnection`, the client
/// library dmabufctl uses, and prints each reply as `Method: {…}`.
///
/// It knows no answer in advance: each call's parameters are what the service returned to
/// the call before, read by the types the interface declares (so an integer literal where a
/// float is declared is a float, and reply fields it does not declare are dropped).
struct CertificationClient {
    typealias Method = CertificationInterface.Method

    let connection: VarlinkConnection

    /// A call that failed: an error reply, a reply not of the declared types, a lost connection.
    struct Failure: Error, CustomStringConvertible {
        let method: Method
        let reason: String

        var description: String { "\(method.rawValue) failed: \(reason)" }
    }

    /// True when End says all went well; a failed call throws `Failure`.
    func run() throws(Failure) -> Bool {
        let clientID = try call(.start, [:])["client_id"]!
        var parameters: [String: JSON] = ["client_id": clientID]
        for method in [Method.test01, .test02, .test03, .test04, .test05, .test06, .test07, .test08, .test09] {
            parameters = try call(method, parameters)
            parameters["client_id"] = clientID
        }
        var strings: [JSON] = []
        try attempt(.test10) {
            try connection.stream(message(.test10, parameters)) { reply in
                strings.append(try read(reply, of: .test10)["string"]!)
                return true
            }
        }
        try attempt(.test11) {
            try connection.send(oneway: message(.test11, ["client_id": clientID, "last_more_replies": .array(strings)]))
        }
        print("\(Method.test11.rawValue): no reply (oneway)")
        return try call(.end, ["client_id": clientID])["all_ok"] == true
    }

    /// Calls `method` and returns its reply's declared fields.
    private func call(_ method: Method, _ parameters: [String: JSON]) throws(Failure) -> [String: JSON] {
        try attempt(method) { try read(connection.call(message(method, parameters)), of: method) }
    }

    private func attempt<T>(_ method: Method, _ body: () throws -> T) throws(Failure) -> T {
        do {
            return try body()
        } catch ClientError.replyError(let error) {
            throw Failure(method: method, reason: "error reply \(error)")
        } catch let error as VarlinkError {
            // From `read`: the reply is not what the interface declares.
            let field = error.parameters["parameter"]?.stringValue ?? "?"
            throw Failure(method: method, reason: "the reply's \(field) is missing or not of its declared type")
        } catch {
            throw Failure(method: method, reason: "\(error)")
        }
    }

    private func message(_ method: Method, _ parameters: [String: JSON]) -> Call {
        Call(method: method.qualifiedName, parameters: parameters)
    }

    private func read(_ reply: Reply, of method: Method) throws(VarlinkError) -> [String: JSON] {
        let fields = try VarlinkType.read(
            fields: CertificationInterface.replyFields(of: method), of: .object(reply.parameters), at: "",
            strict: false)
        print("\(method.rawValue): \(JSON.object(fields))")
        return fields
    }
}
