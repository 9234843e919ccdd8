/// A name (or prefix) that can be watched: what the kernel can hold as a
/// DMA-BUF name. The kernel keeps at most 31 bytes (DMA_BUF_NAME_LEN is 32
/// with the NUL), so a watch name is 1 to 31 bytes of UTF-8 with no NUL.
///
/// Names are equal, hashed and ordered by their bytes, as the kernel compares
/// them: "é" written as one code point and as "e" plus an accent are two names.
public struct WatchName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maxBytes = 31

    public let string: String

    /// The name's UTF-8 bytes, as the kernel holds them.
    public var bytes: [UInt8] { Array(string.utf8) }

    public init(validating string: String) throws(NameError) {
        let count = string.utf8.count
        if count == 0 {
            throw NameError(name: string, reason: "empty")
        }
        if string.utf8.contains(0) {
            throw NameError(name: string, reason: "contains a NUL byte")
        }
        if count > WatchName.maxBytes {
            throw NameError(name: string, reason: "is \(count) bytes; the kernel keeps at most \(WatchName.maxBytes)")
        }
        self.string = string
    }

    public static func == (lhs: WatchName, rhs: WatchName) -> Bool {
        lhs.string.utf8.elementsEqual(rhs.string.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(string.utf8.count)
        for byte in string.utf8 { hasher.combine(byte) }
    }

    public static func < (lhs: WatchName, rhs: WatchName) -> Bool {
        lhs.string.utf8.lexicographicallyPrecedes(rhs.string.utf8)
    }

    public var description: String { string }
}

extension WatchName {
    /// Checks a call's names: the first bad one is `io.dmabufd.Monitor.InvalidName`.
    static func validatingCallNames(_ strings: [String]) throws(VarlinkError) -> [WatchName] {
        var names: [WatchName] = []
        names.reserveCapacity(strings.count)
        for string in strings {
            do {
                names.append(try WatchName(validating: string))
            } catch {
                throw error.varlinkError
            }
        }
        return names
    }
}
