/// How often a subscription's passes run.
public enum SubscriptionInterval {
    /// When the subscriber does not say.
    public static let `default` = Duration.milliseconds(1000)
    /// No subscriber makes passes run more often than this.
    public static let floor = Duration.milliseconds(100)
    /// A day: beyond any use, and far from overflowing a deadline.
    public static let ceilingMilliseconds = 86_400_000

    /// The interval a subscriber asked for (`nil`: the default), kept within floor and ceiling.
    public static func clamped(milliseconds: Int?) -> Duration {
        guard let milliseconds else { return `default` }
        return max(.milliseconds(min(milliseconds, ceilingMilliseconds)), floor)
    }
}
