/// Observations counted into buckets by upper bound, as a Prometheus histogram reports
/// them: each bucket counts what is at most its bound, the last one (+Inf) everything.
public struct Histogram: Sendable, Equatable {
    /// The finite upper bounds, increasing.
    public let bounds: [Double]
    /// How many observations fell in each bucket alone: one per bound, then one for +Inf.
    private var counts: [Int]
    public private(set) var sum = 0.0

    public init(bounds: [Double]) {
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }, "histogram bounds must increase")
        self.bounds = bounds
        self.counts = Array(repeating: 0, count: bounds.count + 1)
    }

    public mutating func observe(_ value: Double) {
        counts[bounds.firstIndex { value <= $0 } ?? bounds.count] += 1
        sum += value
    }

    public var count: Int { counts.reduce(0, +) }

    /// Each finite bound with the observations at most it; the +Inf bucket is `count`.
    public var cumulative: [(bound: Double, count: Int)] {
        var total = 0
        return zip(bounds, counts).map { bound, count in
            total += count
            return (bound, total)
        }
    }
}
