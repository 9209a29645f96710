#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A string that equals another only when their UTF-8 bytes are equal: the identity rule of
/// every key, id, event type and name in Kiroku.
///
/// Swift's `String ==` compares canonical equivalence, so `"café"` written precomposed
/// (`63 61 66 c3 a9`) equals `"café"` written decomposed (`63 61 66 65 cc 81`). LMDB compares
/// bytes, and so does Kiroku: those are two keys, with two histories. Use `ExactString` where
/// strings from the log are compared, collected in a `Set` or used as dictionary keys, so that
/// the comparison agrees with the store. Ordering is the byte order LMDB keeps keys in.
///
/// ```swift
/// let a = ExactString("caf\u{E9}"), b = ExactString("cafe\u{301}")
/// a == b                      // false, though "caf\u{E9}" == "cafe\u{301}" is true
/// ```
public struct ExactString: Sendable, Hashable, Comparable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The string, with its bytes as given.
    public let string: String

    /// Wraps `string`; its bytes are kept as they are (never normalized).
    public init(_ string: String) { self.string = string }

    public init(stringLiteral value: String) { self.string = value }

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.string.utf8Equals(rhs.string)
    }

    public func hash(into hasher: inout Hasher) {
        string.withUTF8Bytes { hasher.combine(bytes: $0) }
    }

    /// Byte order (unsigned, shorter first on a common prefix): the order of keys in the store.
    public static func < (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.string.utf8Precedes(rhs.string)
    }

    public var description: String { string }
}

extension String {
    /// Whether the two strings have the same UTF-8 bytes (not canonical equivalence, as `==`).
    package func utf8Equals(_ other: String) -> Bool {
        withUTF8Bytes { a in other.withUTF8Bytes { b in
            a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
        } }
    }

    /// Whether this string's UTF-8 bytes start with `prefix`'s.
    package func utf8HasPrefix(_ prefix: String) -> Bool {
        withUTF8Bytes { a in prefix.withUTF8Bytes { p in
            a.count >= p.count && (p.count == 0 || memcmp(a.baseAddress!, p.baseAddress!, p.count) == 0)
        } }
    }

    /// Whether this string's UTF-8 bytes sort before `other`'s (LMDB's key order).
    package func utf8Precedes(_ other: String) -> Bool {
        withUTF8Bytes { a in other.withUTF8Bytes { b in
            let common = Swift.min(a.count, b.count)
            let order = common == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, common)
            return order != 0 ? order < 0 : a.count < b.count
        } }
    }

    /// Runs `body` with the string's UTF-8 bytes, without copying when the string is native.
    package func withUTF8Bytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}
