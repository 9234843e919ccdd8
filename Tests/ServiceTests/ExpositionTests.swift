import DmabufScanner
import Testing

@testable import DmabufService

struct ExpositionTests {
    @Test func labelValuesAndHelpAreEscapedByScalar() {
        var out = ExpositionWriter()
        out.family("x_bytes", .gauge, help: "a \\ b\nc \"d\"")
        out.sample("x_bytes", 3, labels: ["name": "q\"b\\s\r\nn", "kind": "name"])
        #expect(out.text == """
            # HELP x_bytes a \\\\ b\\nc "d"
            # TYPE x_bytes gauge
            x_bytes{name="q\\"b\\\\s\r\\nn",kind="name"} 3

            """)
    }

    @Test func floatsAreWrittenAsPrometheusParsesThem() {
        var out = ExpositionWriter()
        out.sample("a", 0.000_05)
        out.sample("b", 1_795_731_383.539_78)
        out.sample("c", Double.infinity)
        out.sample("d", Double.nan)
        #expect(out.text == "a 5e-05\nb 1795731383.53978\nc +Inf\nd NaN\n")
    }

    @Test func histogramsAreCumulativeWithSumAndCount() {
        var histogram = Histogram(bounds: [0.001, 0.01])
        for value in [0.0005, 0.001, 0.005, 2] { histogram.observe(value) }
        var out = ExpositionWriter()
        out.histogram("pass_seconds", help: "h", histogram)
        #expect(out.text == """
            # HELP pass_seconds h
            # TYPE pass_seconds histogram
            pass_seconds_bucket{le="0.001"} 2
            pass_seconds_bucket{le="0.01"} 3
            pass_seconds_bucket{le="+Inf"} 4
            pass_seconds_sum 2.0065
            pass_seconds_count 4

            """)
    }

    @Test func aPassIsFreshOnlyWithinItsAge() {
        var statistics = PassStatistics()
        let start = ContinuousClock.now
        #expect(!statistics.isFresh(within: .seconds(1), at: start), "no pass yet")
        let totals = PassTotals(id: 1, startedUsec: 0, durationNsec: 2_000, buffers: 0, bytes: 0)
        statistics.record(.success(PassReport(totals: totals, buffers: [])), started: start)
        statistics.record(.failure(.passFailed("no")), started: start)
        #expect(statistics.passes == 1 && statistics.failures == 1 && statistics.durations.count == 1)
        #expect(statistics.isFresh(within: .seconds(1), at: start + .milliseconds(999)))
        #expect(!statistics.isFresh(within: .seconds(1), at: start + .seconds(1)))
    }
}
