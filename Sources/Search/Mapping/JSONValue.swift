import KirokuProjections
import Foundation

/// A parsed JSON value, for mappings: a small parser over UTF-8 bytes, several times faster
/// than `JSONSerialization` on event payloads (measured in the search benchmarks).
enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    struct Invalid: Error {
        let offset: Int
        let reason: String
    }

    static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { raw in
            var parser = Parser(bytes: raw)
            parser.skipSpace()
            let value = try parser.value(depth: 0)
            parser.skipSpace()
            guard parser.offset == raw.count else { throw Invalid(offset: parser.offset, reason: "text after the value") }
            return value
        }
    }

    /// The value as text, for keyword and text fields and ids: strings as they are, numbers
    /// without a fraction as integers, booleans as `true`/`false`.
    var text: String? {
        switch self {
        case .string(let string): return string
        case .bool(let bool): return bool ? "true" : "false"
        case .number(let number):
            if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
            return String(number)
        default: return nil
        }
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func skipSpace() {
            while offset < bytes.count {
                switch bytes[offset] {
                case 0x20, 0x09, 0x0A, 0x0D: offset += 1
                default: return
                }
            }
        }

        func fail(_ reason: String) -> Invalid { Invalid(offset: offset, reason: reason) }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth < 512 else { throw fail("nested too deeply") }
            guard offset < bytes.count else { throw fail("unexpected end") }
            switch bytes[offset] {
            case UInt8(ascii: "{"):
                offset += 1
                var object: [String: JSONValue] = [:]
                skipSpace()
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(object) }
                while true {
                    skipSpace()
                    guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                    let name = try string()
                    skipSpace()
                    guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    offset += 1
                    skipSpace()
                    object[name] = try value(depth: depth + 1)
                    skipSpace()
                    guard offset < bytes.count else { throw fail("unexpected end") }
                    if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                    if bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(object) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                offset += 1
                var array: [JSONValue] = []
                skipSpace()
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(array) }
                while true {
                    skipSpace()
                    array.append(try value(depth: depth + 1))
                    skipSpace()
                    guard offset < bytes.count else { throw fail("unexpected end") }
                    if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                    if bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(array) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                return .number(try number())
            }
        }

        mutating func literal(_ word: StaticString) throws {
            let count = word.utf8CodeUnitCount
            guard offset + count <= bytes.count,
                  memcmp(bytes.baseAddress! + offset, word.utf8Start, count) == 0 else { throw fail("unknown literal") }
            offset += count
        }

        mutating func number() throws -> Double {
            let start = offset
            while offset < bytes.count {
                switch bytes[offset] {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                     UInt8(ascii: "e"), UInt8(ascii: "E"):
                    offset += 1
                    continue
                default:
                    break
                }
                break
            }
            guard offset > start, let value = Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)) else {
                offset = start
                throw fail("expected a value")
            }
            return value
        }

        mutating func string() throws -> String {
            offset += 1
            let start = offset
            // Fast path: no escapes.
            while offset < bytes.count {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
                    offset += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw fail("control character in a string") }
                offset += 1
            }
            var utf8 = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
            while offset < bytes.count {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\"") {
                    offset += 1
                    return String(decoding: utf8, as: UTF8.self)
                }
                if byte != UInt8(ascii: "\\") {
                    if byte < 0x20 { throw fail("control character in a string") }
                    utf8.append(byte)
                    offset += 1
                    continue
                }
                offset += 1
                guard offset < bytes.count else { break }
                let escape = bytes[offset]
                offset += 1
                if let simple = JSONEscape.simple(escape) {
                    utf8.append(simple)
                    continue
                }
                switch escape {
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), offset + 1 < bytes.count,
                       bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") {
                        let next = offset
                        offset += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            // A high surrogate without its low half: U+FFFD, and the next
                            // escape is a character of its own (found by the fuzzer).
                            offset = next
                        }
                    }
                    utf8.append(contentsOf: String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
                default:
                    throw fail("unknown escape")
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws -> UInt32 {
            guard offset + 4 <= bytes.count else { throw fail("short \\u escape") }
            guard let value = JSONEscape.hex4(bytes, at: offset) else { throw fail("bad \\u escape") }
            offset += 4
            return value
        }
    }
}
