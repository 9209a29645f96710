import Foundation

/// The reversible encoding of keys (and of types and ids in headers) into NATS subject
/// tokens: every byte of the UTF-8 outside `[A-Za-z0-9_-]` becomes `%XX` (upper-case hex).
///
/// A subject token may not hold a space, a dot (the token separator), `*` or `>` (wildcards),
/// CR or LF, and must not be empty; the encoding holds none of these, and a 255-byte key
/// becomes at most 765 bytes, well under the server's 4 KB control line.
public enum KeyEncoding {
    /// The token for `text`.
    public static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isPlain(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The text a token encodes, or `nil` when it is not one ``encode(_:)`` makes (a byte
    /// outside the alphabet, a bad escape, an escape of a plain byte, or not UTF-8).
    public static func decode(_ token: some StringProtocol) -> String? {
        var out: [UInt8] = []
        var bytes = token.utf8.makeIterator()
        while let byte = bytes.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = bytes.next().flatMap(value), let low = bytes.next().flatMap(value) else { return nil }
                let decoded = high << 4 | low
                if isPlain(decoded) { return nil }
                out.append(decoded)
            } else if isPlain(byte) {
                out.append(byte)
            } else {
                return nil
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static let hex = Array("0123456789ABCDEF".utf8)

    private static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"): true
        default: false
        }
    }

    private static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
