import Foundation
import KirokuLog
import KirokuSearch

/// One line of a JSON Lines import, parsed strictly from its bytes.
///
/// `key`, `type` and `id` must be JSON strings of valid UTF-8 (no lone surrogate escapes):
/// they are identities, compared by their bytes, so a replaced byte would merge two of them.
/// `data` and `metadata` are kept as the bytes the line holds (checked to be one JSON value,
/// not re-encoded), so a payload is stored exactly as exported.
struct ImportLine {
    var key: String
    var type: String
    var id: String?
    var data: Data?
    var metadata: Data?

    /// Why a line cannot be imported; the message names the field or byte.
    struct Invalid: Error {
        let reason: String
    }

    /// The fields a line may have.
    static let fields = ["key", "type", "data", "id", "metadata"]

    /// Parses one line (without its newline).
    static func parse(_ line: UnsafeRawBufferPointer) throws(Invalid) -> ImportLine {
        var scanner = Scanner(bytes: line)
        var key: String?, type: String?, id: String?, data: Data?, metadata: Data?
        var seen = Set<String>()
        scanner.skipSpace()
        guard scanner.peek == UInt8(ascii: "{") else { throw Invalid(reason: "not a JSON object") }
        scanner.offset += 1
        scanner.skipSpace()
        if scanner.peek == UInt8(ascii: "}") {
            scanner.offset += 1
        } else {
            while true {
                scanner.skipSpace()
                guard scanner.peek == UInt8(ascii: "\"") else { throw scanner.fail("expected a field name") }
                let name = try scanner.string(field: "a field name")
                guard fields.contains(name) else {
                    throw Invalid(reason: "unknown field \"\(name)\" (the fields are key, type, data, id, metadata)")
                }
                guard seen.insert(name).inserted else { throw Invalid(reason: "field \"\(name)\" appears twice") }
                scanner.skipSpace()
                guard scanner.peek == UInt8(ascii: ":") else { throw scanner.fail("expected ':' after \"\(name)\"") }
                scanner.offset += 1
                scanner.skipSpace()
                switch name {
                case "key", "type", "id":
                    guard scanner.peek == UInt8(ascii: "\"") else {
                        if name == "id" { throw Invalid(reason: "\"id\" must be a non-empty string") }
                        throw Invalid(reason: "\"\(name)\" is missing or not a string")
                    }
                    let text = try scanner.string(field: "\"\(name)\"")
                    switch name {
                    case "key": key = text
                    case "type": type = text
                    default: id = text
                    }
                default:
                    let span = try scanner.value(depth: 0)
                    let isNull = span.count == 4 && line[span].elementsEqual("null".utf8)
                    let bytes = isNull ? nil : Data(line[span])
                    if name == "data" { data = bytes } else { metadata = bytes }
                }
                scanner.skipSpace()
                if scanner.peek == UInt8(ascii: ",") { scanner.offset += 1; continue }
                guard scanner.peek == UInt8(ascii: "}") else { throw scanner.fail("expected ',' or '}'") }
                scanner.offset += 1
                break
            }
        }
        scanner.skipSpace()
        guard scanner.offset == line.count else { throw scanner.fail("text after the object") }
        guard let key, !key.isEmpty else { throw Invalid(reason: "\"key\" is missing or not a string") }
        guard let type, !type.isEmpty else { throw Invalid(reason: "\"type\" is missing or not a string") }
        if let id, id.isEmpty { throw Invalid(reason: "\"id\" must be a non-empty string") }
        return ImportLine(key: key, type: type, id: id, data: data, metadata: metadata)
    }

    /// A cursor over the line's bytes that checks JSON as it goes.
    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }

        func fail(_ reason: String) -> Invalid {
            Invalid(reason: offset < bytes.count ? "\(reason) at byte \(offset + 1)" : "\(reason) at the end of the line")
        }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A { offset += 1 }
        }

        /// A JSON string whose text must be valid UTF-8: escapes decoded, raw bytes checked.
        mutating func string(field: String) throws(Invalid) -> String {
            let start = offset
            offset += 1
            var utf8: [UInt8] = []
            while true {
                guard let byte = peek else { throw fail("\(field) has no closing quote") }
                offset += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: utf8, as: UTF8.self) else {
                        throw Invalid(reason: "\(field) is not valid UTF-8 (bytes \(start + 1) to \(offset)); fix the encoding of the file (keys, types and ids are compared by their bytes)")
                    }
                    return text
                case UInt8(ascii: "\\"):
                    guard let escape = peek else { throw fail("\(field) ends inside an escape") }
                    offset += 1
                    if let simple = JSONEscape.simple(escape) {
                        utf8.append(simple)
                        continue
                    }
                    switch escape {
                    case UInt8(ascii: "u"):
                        var scalar = try hex4(field)
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard peek == UInt8(ascii: "\\"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "u") else {
                                throw fail("\(field) has a lone surrogate escape (\\u\(String(scalar, radix: 16)))")
                            }
                            offset += 2
                            let low = try hex4(field)
                            guard (0xDC00...0xDFFF).contains(low) else {
                                throw fail("\(field) has a lone surrogate escape (\\u\(String(scalar, radix: 16)))")
                            }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw fail("\(field) has a lone surrogate escape (\\u\(String(scalar, radix: 16)))")
                        }
                        utf8.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                    default:
                        throw fail("\(field) has an unknown escape")
                    }
                case 0x00..<0x20:
                    throw fail("\(field) has a raw control character (escape it)")
                default:
                    utf8.append(byte)
                }
            }
        }

        mutating func hex4(_ field: String) throws(Invalid) -> UInt32 {
            guard offset + 4 <= bytes.count else { throw fail("\(field) has a short \\u escape") }
            guard let value = JSONEscape.hex4(bytes, at: offset) else { throw fail("\(field) has a bad \\u escape") }
            offset += 4
            return value
        }

        /// Skips one JSON value, checking its grammar (string contents are not checked: a
        /// payload's bytes are stored as they are), and returns its byte range.
        mutating func value(depth: Int) throws(Invalid) -> Range<Int> {
            guard depth < 512 else { throw fail("a value nested too deeply") }
            let start = offset
            guard let byte = peek else { throw fail("expected a value") }
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                offset += 1
                skipSpace()
                if peek == close { offset += 1; return start..<offset }
                while true {
                    skipSpace()
                    if close == UInt8(ascii: "}") {
                        guard peek == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                        _ = try value(depth: depth + 1)
                        skipSpace()
                        guard peek == UInt8(ascii: ":") else { throw fail("expected ':'") }
                        offset += 1
                        skipSpace()
                    }
                    _ = try value(depth: depth + 1)
                    skipSpace()
                    if peek == UInt8(ascii: ",") { offset += 1; continue }
                    guard peek == close else { throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))'") }
                    offset += 1
                    return start..<offset
                }
            case UInt8(ascii: "\""):
                offset += 1
                while true {
                    guard let next = peek else { throw fail("a string has no closing quote") }
                    offset += 1
                    if next == UInt8(ascii: "\"") { return start..<offset }
                    if next == UInt8(ascii: "\\") {
                        guard peek != nil else { throw fail("a string ends inside an escape") }
                        offset += 1
                    } else if next < 0x20 {
                        throw fail("a string has a raw control character")
                    }
                }
            case UInt8(ascii: "t"): try literal("true"); return start..<offset
            case UInt8(ascii: "f"): try literal("false"); return start..<offset
            case UInt8(ascii: "n"): try literal("null"); return start..<offset
            default:
                let digits = offset
                while let next = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(next) || next == UInt8(ascii: "-")
                    || next == UInt8(ascii: "+") || next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
                    offset += 1
                }
                guard offset > digits, let text = String(validating: bytes[digits..<offset], as: UTF8.self), Double(text) != nil,
                      text.first != "+", !(text.hasPrefix("0") && text.count > 1 && text.dropFirst().first?.isNumber == true) else {
                    offset = digits
                    throw fail("expected a value")
                }
                return start..<offset
            }
        }

        mutating func literal(_ word: String) throws(Invalid) {
            let utf8 = Array(word.utf8)
            guard offset + utf8.count <= bytes.count, bytes[offset..<(offset + utf8.count)].elementsEqual(utf8) else {
                throw fail("expected a value")
            }
            offset += utf8.count
        }
    }
}
