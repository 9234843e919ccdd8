import DmabufScanner
import DmabufSystem
import Testing

@testable import DmabufService

/// The join of holders on the inode, and the cgroup subtrees built from it.
@Suite struct AttributionTests {
    private let big = BufferRecord(inode: 1, size: 9000, name: [], exporter: [])
    private let small = BufferRecord(inode: 2, size: 100, name: [], exporter: [])

    @Test func pssSplitsEachBufferAndRoundsDownPerBuffer() {
        let attribution = Attribution(holders: [
            FakeKernel.hold(big, by: 1), FakeKernel.hold(big, by: 2), FakeKernel.hold(big, by: 3),
            FakeKernel.hold(small, by: 1, .mapping(0x1000)),
        ])
        let one = attribution.holdings[1]!
        #expect(attribution.pss(of: one) == 3000 + 100)
        #expect(one.rss == 9100 && one.fds == 1 && one.mappings.count == 1)
        #expect(attribution.pss(of: attribution.holdings[2]!) == 3000)
        #expect(attribution.kernelHeld(among: [big, small, BufferRecord(inode: 3, size: 7, name: [], exporter: [])])
            == (count: 1, bytes: 7))
    }

    @Test func aCgroupCountsItsWholeSubtreeAndEachBufferOnce() {
        let attribution = Attribution(holders: [
            FakeKernel.hold(big, by: 1, cgroup: 10), FakeKernel.hold(big, by: 2, cgroup: 11),
            FakeKernel.hold(small, by: 3, cgroup: 12),
        ])
        let paths: [UInt64: String] = [10: "/pods/a", 11: "/pods/a/side", 12: "/system"]
        let subtrees = attribution.subtrees { paths[$0.cgroupID]! }
        #expect(Set(subtrees.keys) == ["/", "/pods", "/pods/a", "/pods/a/side", "/system"])
        #expect(subtrees["/pods/a"] == Attribution.Subtree(sizes: [1: 9000], pss: 9000, processes: 2))
        #expect(subtrees["/pods/a/side"] == Attribution.Subtree(sizes: [1: 9000], pss: 4500, processes: 1))
        #expect(subtrees["/"] == Attribution.Subtree(sizes: [1: 9000, 2: 100], pss: 9100, processes: 3))
    }

    @Test func lineageAndWithin() {
        #expect(Attribution.lineage(of: "/a/b/c") == ["/a/b/c", "/a/b", "/a", "/"])
        #expect(Attribution.lineage(of: "/") == ["/"])
        #expect(Attribution.lineage(of: "") == [""])
        #expect(Attribution.isWithin("/a/b", "/a") && Attribution.isWithin("/a", "/a") && Attribution.isWithin("/x", "/"))
        #expect(!Attribution.isWithin("/ab", "/a"))
    }
}

/// cgroup paths read from this machine's own cgroup2 mount, in folders the test makes.
@Suite(.enabled(if: geteuid() == 0, "making cgroups needs root, which CI has"))
struct CgroupPathsTests {
    @Test func aCgroupIsNamedByItsDirectorysInodeAndNewOnesAreFound() throws {
        let paths = CgroupPaths()
        let root = try #require(CgroupPaths.cgroup2Root(in: readTextFile("/proc/self/mountinfo")!))
        let name = "dmabufd-unit-\(getpid())"
        #expect(mkdir("\(root)/\(name)", 0o755) == 0)
        #expect(mkdir("\(root)/\(name)/child", 0o755) == 0)
        defer {
            rmdir("\(root)/\(name)/child")
            rmdir("\(root)/\(name)")
        }
        var status = stat()
        #expect(lstat("\(root)/\(name)/child", &status) == 0)
        #expect(paths.path(of: UInt64(status.st_ino)) == "/\(name)/child", "found by a walk made on demand")
        #expect(lstat(root, &status) == 0)
        #expect(paths.path(of: UInt64(status.st_ino)) == "/")
        #expect(paths.path(of: 1 << 60) == "", "no cgroup has that id")
    }

    @Test func mountinfoEscapesAreRead() {
        let line = #"41 31 0:38 / /sys/fs/my\040cgroup rw,relatime - cgroup2 cgroup2 rw"#
        #expect(CgroupPaths.cgroup2Root(in: "1 0 0:1 / / rw - ext4 /dev/vda rw\n" + line) == "/sys/fs/my cgroup")
        #expect(CgroupPaths.cgroup2Root(in: "1 0 0:1 / / rw - ext4 /dev/vda rw") == nil)
    }
}

@Suite struct PidViewTests {
    private let record = HolderRecord(
        inode: 1, size: 1, pid: 4242, uid: 0, cgroupID: 1, command: "app", hold: .fd(3), namespacedPID: 7,
        pidNamespace: 900)

    @Test func aClientOfTheServicesNamespaceGetsItsPids() {
        #expect(PidView(client: 100, service: 100).pid(of: record) == 4242)
        #expect(PidView(client: nil, service: 100).pid(of: record) == 4242, "the kernel did not tell: SO_PEERCRED's")
    }

    @Test func aClientOfAnotherNamespaceGetsItsOwnNumbersOrZero() {
        #expect(PidView(client: 900, service: 100).pid(of: record) == 7)
        #expect(PidView(client: 901, service: 100).pid(of: record) == 0, "never a host pid")
    }
}

/// What the kernel tells of a peer through its pidfd, on this machine's kernel.
@Suite struct PidfdInfoTests {
    @Test func aPeersCgroupComesFromItsPidfd() throws {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { pair.forEach { Descriptor.close($0) } }
        var pidfd: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        #expect(getsockopt(pair[0], SOL_SOCKET, 77, &pidfd, &length) == 0, "SO_PEERPIDFD")
        defer { Descriptor.close(pidfd) }
        var status = stat()
        let root = try #require(CgroupPaths.cgroup2Root(in: readTextFile("/proc/self/mountinfo")!))
        let path = try #require(readTextFile("/proc/self/cgroup")?.split(separator: "\n")
            .first { $0.hasPrefix("0::") }?.dropFirst(3))
        #expect(lstat(root + (path == "/" ? "" : String(path)), &status) == 0)
        #expect(try PidfdInfo.cgroupID(of: pidfd) == UInt64(status.st_ino), "this process's own cgroup")
    }
}
