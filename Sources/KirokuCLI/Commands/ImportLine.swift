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
    /// Where an exported record was (`kiroku export` writes it): the position it must take.
    var position: UInt64?
    /// The version an exported record had: the version it must become.
    var version: UInt64?
    /// An exported deletion marker's kind (`"deletion": "soft"` or `"hard"`).
    var deletion: Record.Deletion?
    /// An exported erased record (`"erased": true`): restored without payload.
    var erased = false
    /// The event's schema version (`"schema": N`), when the line gives one.
    var schema: Int?

    /// Why a line cannot be imported; the message names the field or byte.
    struct Invalid: Error {
        let reason: String
    }

    /// The fields a line may have (`timestamp` is read and left: the log stamps its own commits).
    static let fields = ["key", "type", "data", "id", "metadata", "dataBase64", "metadataBase64", "position", "version", "timestamp",
                         "deletion", "erased", "schema"]
    static let fieldBytes = fields.map { Array($0.utf8) }

    /// Parses one line (without its newline).
    static func parse(_ line: UnsafeRawBufferPointer) throws(Invalid) -> ImportLine {
        var scanner = Scanner(bytes: line)
        var key: String?, type: String?, id: String?, data: Data?, metadata: Data?
        var position: UInt64?, version: UInt64?
        var deletion: Record.Deletion?, erased = false
        var schema: Int?
        var seen: UInt16 = 0
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
                let (known, name) = try scanner.fieldName()
                guard let field = known else {
                    throw Invalid(reason: "unknown field \"\(name)\" (the fields are key, type, data, id, metadata, dataBase64, metadataBase64, position, version, timestamp, deletion, erased, schema)")
                }
                guard seen & (1 << field) == 0 else { throw Invalid(reason: "field \"\(name)\" appears twice") }
                seen |= 1 << field
                scanner.skipSpace()
                guard scanner.peek == UInt8(ascii: ":") else { throw scanner.fail("expected ':' after \"\(name)\"") }
                scanner.offset += 1
                scanner.skipSpace()
                // Field numbers: their places in `fields`.
                switch field {
                case 0, 1, 3:
                    guard scanner.peek == UInt8(ascii: "\"") else {
                        if field == 3 { throw Invalid(reason: "\"id\" must be a non-empty string") }
                        throw Invalid(reason: "\"\(name)\" is missing or not a string")
                    }
                    let text = try scanner.string(field: "\"\(name)\"")
                    switch field {
                    case 0: key = text
                    case 1: type = text
                    default: id = text
                    }
                case 7, 8:
                    let number = scanner.unsigned()
                    guard let number, number > 0 else { throw Invalid(reason: "\"\(name)\" must be a whole number from 1") }
                    if field == 7 { position = number } else { version = number }
                case 9:
                    guard scanner.peek == UInt8(ascii: "\"") else { throw Invalid(reason: "\"timestamp\" must be a string") }
                    _ = try scanner.value(depth: 0)
                case 10:
                    guard scanner.peek == UInt8(ascii: "\""), let kind = Record.Deletion(rawValue: try scanner.string(field: "\"deletion\"")) else {
                        throw Invalid(reason: "\"deletion\" must be \"soft\" or \"hard\"")
                    }
                    deletion = kind
                case 11:
                    let span = try scanner.value(depth: 0)
                    if line[span].elementsEqual("true".utf8) { erased = true } else if !line[span].elementsEqual("false".utf8) {
                        throw Invalid(reason: "\"erased\" must be true or false")
                    }
                case 12:
                    guard let number = scanner.unsigned(), (1...UInt64(UInt16.max)).contains(number) else {
                        throw Invalid(reason: "\"schema\" must be a whole number from 1 to \(UInt16.max)")
                    }
                    schema = Int(number)
                case 5, 6:
                    guard scanner.peek == UInt8(ascii: "\"") else { throw Invalid(reason: "\"\(name)\" must be a base64 string") }
                    guard let bytes = Data(base64Encoded: try scanner.string(field: "\"\(name)\"")) else {
                        throw Invalid(reason: "\"\(name)\" is not valid base64")
                    }
                    if field == 5 { data = bytes } else { metadata = bytes }
                default:
                    let span = try scanner.value(depth: 0)
                    let isNull = span.count == 4 && line[span].elementsEqual("null".utf8)
                    let bytes = isNull ? nil : Data(line[span])
                    if field == 2 { data = bytes } else { metadata = bytes }
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
        if seen & (1 << 2) != 0, seen & (1 << 5) != 0 { throw Invalid(reason: "give \"data\" or \"dataBase64\", not both") }
        if seen & (1 << 4) != 0, seen & (1 << 6) != 0 { throw Invalid(reason: "give \"metadata\" or \"metadataBase64\", not both") }
        if (deletion != nil || erased), (data.map { !$0.isEmpty } ?? false) || metadata != nil {
            throw Invalid(reason: "an erased record or a deletion marker has no data and no metadata")
        }
        if deletion != nil, let schema, schema != 1 { throw Invalid(reason: "a deletion marker has no \"schema\"") }
        if erased && deletion == nil && seen & (1 << 7) == 0 {
            throw Invalid(reason: "\"erased\" belongs to an exported record: give its \"position\" too")
        }
        return ImportLine(key: key, type: type, id: id, data: data, metadata: metadata, position: position, version: version,
                          deletion: deletion, erased: erased, schema: schema)
    }

    /// Whether `bytes` can be written into a line as they are and read back by ``parse(_:)`` as
    /// the same bytes: one JSON value, nothing around it, no line break in it, and not `null`
    /// (a line's `null` stands for no bytes).
    static func isVerbatim(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let first = bytes.first, let last = bytes.last, first > 0x20, last > 0x20,
              !bytes.contains(0x0A), !bytes.contains(0x0D) else { return false }
        if bytes.count == 4, bytes.elementsEqual("null".utf8) { return false }
        var scanner = Scanner(bytes: bytes)
        guard (try? scanner.value(depth: 0)) != nil else { return false }
        return scanner.offset == bytes.count
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

        /// A field name: its place in ``ImportLine/fields`` (matched on the bytes when it has
        /// no escape) and its text, or nil and the text for an unknown one.
        mutating func fieldName() throws(Invalid) -> (Int?, String) {
            let start = offset + 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\") { end += 1 }
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                let length = end - start
                for (index, name) in ImportLine.fieldBytes.enumerated() where name.count == length
                    && memcmp(name, bytes.baseAddress! + start, length) == 0 {
                    offset = end + 1
                    return (index, ImportLine.fields[index])
                }
            }
            let name = try string(field: "a field name")
            return (ImportLine.fields.firstIndex(of: name), name)
        }

        /// A JSON string whose text must be valid UTF-8: escapes decoded, raw bytes checked.
        mutating func string(field: String) throws(Invalid) -> String {
            let start = offset
            // Most strings have no escape or control character: validated straight from the line.
            var end = start + 1
            while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start + 1..<end]), as: UTF8.self) else {
                    throw Invalid(reason: "\(field) is not valid UTF-8 (bytes \(start + 1) to \(end + 1)); fix the encoding of the file (keys, types and ids are compared by their bytes)")
                }
                offset = end + 1
                return text
            }
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

        /// A whole number in plain digits (at most 19), or nil.
        mutating func unsigned() -> UInt64? {
            var value: UInt64 = 0
            var digits = 0
            while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                guard digits < 19 else { return nil }
                value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
                digits += 1
                offset += 1
            }
            return digits > 0 ? value : nil
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
                var i = offset + 1
                let count = bytes.count
                while i < count {
                    let next = bytes[i]
                    i += 1
                    if next == UInt8(ascii: "\"") {
                        offset = i
                        return start..<offset
                    }
                    if next == UInt8(ascii: "\\") {
                        guard i < count else {
                            offset = i
                            throw fail("a string ends inside an escape")
                        }
                        i += 1
                    } else if next < 0x20 {
                        offset = i
                        throw fail("a string has a raw control character")
                    }
                }
                offset = i
                throw fail("a string has no closing quote")
            case UInt8(ascii: "t"): try literal("true"); return start..<offset
            case UInt8(ascii: "f"): try literal("false"); return start..<offset
            case UInt8(ascii: "n"): try literal("null"); return start..<offset
            default:
                // JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
                let digits = offset
                func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } ?? false }
                func run() -> Bool {
                    guard isDigit(peek) else { return false }
                    while isDigit(peek) { offset += 1 }
                    return true
                }
                var valid = true
                if peek == UInt8(ascii: "-") { offset += 1 }
                if peek == UInt8(ascii: "0") {
                    offset += 1
                } else {
                    valid = run()
                }
                if valid, peek == UInt8(ascii: ".") {
                    offset += 1
                    valid = run()
                }
                if valid, peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                    offset += 1
                    if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { offset += 1 }
                    valid = run()
                }
                guard valid, !isDigit(peek) else {
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
