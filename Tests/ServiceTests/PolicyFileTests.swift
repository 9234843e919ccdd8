import DmabufProtocol
import DmabufSystem
import Testing
import VarlinkServer

@testable import DmabufService

/// Policy files as an administrator writes them, right and wrong.
@Suite struct PolicyFileTests {
    let builtIn = Policy.builtIn(quota: 256, capacity: 16_384)

    private func load(_ text: String) throws(PolicyFileError) -> Policy {
        var template = Array("/tmp/dmabufd-policy-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        defer { unlink(path) }
        do {
            return try PolicyFile.load(path, builtIn: builtIn)
        } catch {
            throw PolicyFileError(path: "P", problem: error.problem)
        }
    }

    private func problem(_ text: String) -> String? {
        do {
            _ = try load(text)
            return nil
        } catch {
            return error.description
        }
    }

    private let nobody = PeerCredentials(uid: 65534, gid: 65534, pid: 1)
    private let root = PeerCredentials(uid: 0, gid: 0, pid: 1)

    @Test func theBuiltInPolicyGivesRootEverythingAndOthersAllButListMetricsAndCgroups() {
        #expect(builtIn.grant(for: root) == .everything)
        let other = builtIn.grant(for: nobody)
        #expect(other.methods == Set(MonitorInterface.Method.allCases).subtracting([.list, .metrics, .cgroups]))
        #expect(other.maxNames == 256 && other.maxConnections == 128 && other.details)
        #expect(!other.allProcesses, "Processes shows others their own uid's processes only")
    }

    @Test func theReserveKeepsAShareOfTheCapacityForTheUidsItNames() throws {
        #expect(builtIn.reserve == ReservedShare(names: 1024, connections: 256, uids: [0]))
        #expect(
            try load(#"{"reserve": {"names": 10, "connections": 2}}"#).reserve
                == ReservedShare(names: 10, connections: 2, uids: [0]))
        #expect(
            try load(#"{"reserve": {"uids": [1000], "users": ["nobody"]}}"#).reserve
                == ReservedShare(names: 1024, connections: 256, uids: [1000, 65534]))
        #expect(problem(#"{"reserve": {"connections": "8"}}"#) == "policy P: reserve.connections: must be a whole number, 0 or more")
        #expect(problem(#"{"reserve": {"names": -1}}"#) == "policy P: reserve.names: must be a whole number, 0 or more")
        #expect(problem(#"{"reserve": {"names": null}}"#) == "policy P: reserve.names: must be a whole number, 0 or more")
        #expect(problem(#"{"reserve": {"users": ["no-such-user-here"]}}"#) == #"policy P: reserve.users[0]: no user named "no-such-user-here""#)
        #expect(problem(#"{"reserve": {"uid": [0]}}"#) == "policy P: reserve.uid: unknown key (expected one of connections, names, uids, users)")
    }

    @Test func passesOfAUidAreSpacedUnlessThePolicySaysNot() throws {
        #expect(builtIn.grant(for: nobody).passSpacing == .milliseconds(100))
        #expect(builtIn.grant(for: root).passSpacing == nil)
        let policy = try load(#"{"default": {"pass_interval_msec": 500}, "rules": [{"uid": 65534, "pass_interval_msec": null}]}"#)
        #expect(policy.grant(for: nobody).passSpacing == nil)
        #expect(policy.grant(for: PeerCredentials(uid: 1000, gid: 1000, pid: 1)).passSpacing == .milliseconds(500))
    }

    @Test func aRuleCanShowEveryProcess() throws {
        let policy = try load(#"{"rules": [{"group": "nogroup", "all_processes": true}]}"#)
        #expect(policy.grant(for: nobody).allProcesses)
        #expect(!policy.grant(for: PeerCredentials(uid: 1000, gid: 1000, pid: 1)).allProcesses)
        #expect(problem(#"{"default": {"all_processes": "yes"}}"#) == "policy P: default.all_processes: must be true or false")
    }

    @Test func rulesMatchInOrderAndInheritFromTheFilesDefault() throws {
        let policy = try load(
            """
            {"default": {"methods": ["Scan", "Status"], "max_names": 8},
             "rules": [{"uid": 65534, "max_connections": 2},
                       {"gid": 65534, "methods": ["*"]},
                       {"user": "root", "methods": ["*"], "max_names": null, "details": false}]}
            """)
        let first = policy.grant(for: nobody)
        #expect(first.methods == [.scan, .status], "from the file's default")
        #expect(first.maxNames == 8 && first.maxConnections == 2)
        #expect(policy.grant(for: PeerCredentials(uid: 1000, gid: 65534, pid: 1)).methods == Set(MonitorInterface.Method.allCases))
        let rootGrant = policy.grant(for: root)
        #expect(rootGrant.maxNames == nil && !rootGrant.details)
        #expect(policy.grant(for: PeerCredentials(uid: 1000, gid: 1000, pid: 1)).maxConnections == 128, "built in")
    }

    @Test func mistakesNameTheLineOrTheKey() {
        #expect(problem("{\"rules\": [}")?.hasPrefix("policy P: not valid JSON: ") == true)
        #expect(problem("{\"rules\": [}")?.contains("(line 1, column 12)") == true)
        #expect(problem("{\"rulez\": []}") == "policy P: rulez: unknown key (expected one of default, reserve, rules)")
        #expect(problem("[]") == "policy P: the file: must be a JSON object")
        #expect(problem("{\"rules\": [{\"uid\": 0, \"user\": \"root\"}]}")
            == "policy P: rules[0]: needs exactly one of \"uid\", \"gid\", \"user\", \"group\"")
        #expect(problem("{\"rules\": [{\"group\": \"no-such-group-here\"}]}")
            == "policy P: rules[0].group: no group named \"no-such-group-here\"")
        #expect(problem("{\"default\": {\"methods\": [\"Scan\", \"Lsit\"]}}")?
            .hasPrefix("policy P: default.methods[1]: no method \"Lsit\" in io.dmabufd.Monitor") == true)
        #expect(problem("{\"default\": {\"max_names\": -1}}")
            == "policy P: default.max_names: must be a whole number, 0 or more, or null for no limit")
        #expect(problem("{\"rules\": [{\"uid\": \"0\"}]}") == "policy P: rules[0].uid: must be a numeric id from 0 to 4294967294")
        #expect(problem("{\"default\": {\"details\": 1}}") == "policy P: default.details: must be true or false")
        #expect(problem("{\"rules\": {}}") == "policy P: rules: must be an array of rules")
    }

    @Test func aMissingFileSaysWhy() {
        #expect(throws: PolicyFileError(path: "/nonexistent/policy.json", problem: "No such file or directory")) {
            try PolicyFile.load("/nonexistent/policy.json", builtIn: builtIn)
        }
    }
}
