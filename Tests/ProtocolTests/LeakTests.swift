import CJansson
import DmabufSystem
import Testing

@testable import DmabufProtocol

/// Counts jansson's allocations made and freed on one thread, so that tests
/// running at the same time on other threads do not disturb the count.
private enum AllocationCounter {
    nonisolated(unsafe) static var owner: pthread_t = 0
    nonisolated(unsafe) static var live = 0
    nonisolated(unsafe) static var total = 0

    static let countingMalloc: json_malloc_t = { size in
        guard let block = malloc(size) else { return nil }
        if pthread_equal(pthread_self(), AllocationCounter.owner) != 0 {
            AllocationCounter.live += 1
            AllocationCounter.total += 1
        }
        return block
    }

    static let countingFree: json_free_t = { block in
        if block != nil, pthread_equal(pthread_self(), AllocationCounter.owner) != 0 {
            AllocationCounter.live -= 1
        }
        free(block)
    }

    /// Runs `body` with counting on and returns (allocations still live, allocations made).
    static func measure(_ body: () -> Void) -> (live: Int, total: Int) {
        var previousMalloc: json_malloc_t? = nil
        var previousFree: json_free_t? = nil
        json_get_alloc_funcs(&previousMalloc, &previousFree)
        live = 0
        total = 0
        owner = pthread_self()
        json_set_alloc_funcs(countingMalloc, countingFree)
        body()
        owner = 0
        json_set_alloc_funcs(previousMalloc, previousFree)
        return (live, total)
    }
}

@Suite("jansson references are released", .serialized)
struct LeakTests {
    @Test func decodingAndEncodingReleaseEveryTree() {
        let message = Array(
            #"{"method":"io.dmabufd.Monitor.Scan","parameters":{"names":["a","b\u0000"],"details":true,"x":[1,2.5,null,{"y":[]}]}}"#
                .utf8)
        let counts = AllocationCounter.measure {
            for _ in 0..<100 {
                let json = try? JSON(decoding: message)
                _ = json?.encoded()
                _ = try? Call(decoding: message)
                _ = try? JSON(decoding: Array("{\"a\": [1, 2,".utf8))
                _ = try? JSON(
                    decoding: Array((String(repeating: "[", count: 40) + String(repeating: "]", count: 40)).utf8))
                _ = Reply(error: .invalidName(name: "x", reason: "y")).encoded()
            }
        }
        #expect(counts.total > 0, "the counter saw no allocation: it is not hooked in")
        #expect(counts.live == 0)
    }

    @Test func theCounterSeesALeak() {
        var leaked: UnsafeMutablePointer<json_t>? = nil
        let counts = AllocationCounter.measure { leaked = json_array() }
        #expect(counts.live > 0, "an array never released must show as live allocations")
        json_decref(leaked)
    }
}
