import DmabufSystem

/// The sizes the program's maps are loaded with, and what each may be: checked here once,
/// for the loader and for dmabufd's options alike.
public enum ProgramSizes {
    /// The ring buffer for per-buffer records when nobody says: about 95,000 records.
    public static let defaultRingBytes = 8 << 20
    public static let maxCapacity = 1 << 24
    public static let maxRingBytes = 1 << 30
    /// The smallest ring buffer the kernel takes: one page.
    public static var minRingBytes: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// What a capacity (watched names and prefixes, together) must be.
    public static var capacityRule: String { "from 1 to \(maxCapacity)" }
    /// What a ring buffer size must be.
    public static var ringBytesRule: String { "a power of two from \(minRingBytes) to \(maxRingBytes)" }

    public static func isValid(capacity: Int) -> Bool {
        (1...maxCapacity).contains(capacity)
    }

    public static func isValid(ringBytes: Int) -> Bool {
        (minRingBytes...maxRingBytes).contains(ringBytes) && ringBytes & (ringBytes - 1) == 0
    }
}
