import KirokuLog
import KirokuProjections

/// Parses the query language (see `docs/SEARCH.md`):
///
/// - `tokyo 東京` terms, all required (AND is the default); `"exact phrase"`; `pre*`;
/// - `owner:alice`, `text:"phrase"`, `owner:(alice OR bob)`;
/// - `amount:[10 TO 20]`, `date:{2024-01-01 TO *}`, `amount:>=10`, `date:<2025-01-01`;
/// - `AND`, `OR`, `NOT`, `+term`, `-term`, parentheses; `*` alone matches everything.
///
/// A syntax error is a ``KirokuError`` with code ``KirokuError/Code/querySyntax`` naming the
/// column and what was expected there.
public struct QueryParser {
    private let characters: [Character]
    private var index = 0
    private let fields: [SearchMapping.Field]?
    /// The field of an enclosing `field:( … )` group.
    private var groupField: String?

    /// Parses `text`; with `fields`, field names are checked against them.
    public static func parse(_ text: String, fields: [SearchMapping.Field]? = nil) throws -> SearchQuery {
        var parser = QueryParser(characters: Array(text), fields: fields)
        parser.skipSpace()
        if parser.atEnd { return .all }
        let query = try parser.parseOr()
        parser.skipSpace()
        if !parser.atEnd {
            throw parser.error("unexpected '\(parser.characters[parser.index])'", expected: "an operator, a term or the end of the query")
        }
        return query
    }

    private init(characters: [Character], fields: [SearchMapping.Field]?) {
        self.characters = characters
        self.fields = fields
    }

    private var atEnd: Bool { index >= characters.count }
    private var current: Character? { atEnd ? nil : characters[index] }

    private func error(_ what: String, expected: String, at column: Int? = nil) -> KirokuError {
        KirokuError(.querySyntax, "Query syntax error at column \(column ?? index + 1): \(what); expected \(expected). See docs/SEARCH.md for the query language.")
    }

    private mutating func skipSpace() {
        while let c = current, c.isWhitespace { index += 1 }
    }

    private static let special: Set<Character> = ["(", ")", "\"", "[", "]", "{", "}", ":"]

    /// The bare word at the cursor, without consuming it.
    private func peekWord() -> String {
        var end = index
        while end < characters.count, !characters[end].isWhitespace, !Self.special.contains(characters[end]) { end += 1 }
        return String(characters[index..<end])
    }

    private mutating func parseOr() throws -> SearchQuery {
        var items = [try parseAnd()]
        while true {
            skipSpace()
            guard peekWord() == "OR" else { break }
            index += 2
            skipSpace()
            if atEnd || current == ")" { throw error("'OR' has nothing after it", expected: "a term") }
            items.append(try parseAnd())
        }
        return items.count == 1 ? items[0] : .or(items)
    }

    private mutating func parseAnd() throws -> SearchQuery {
        var items = [try parseUnary()]
        while true {
            skipSpace()
            if atEnd || current == ")" { break }
            let word = peekWord()
            if word == "OR" { break }
            if word == "AND" {
                index += 3
                skipSpace()
                if atEnd || current == ")" { throw error("'AND' has nothing after it", expected: "a term") }
            }
            items.append(try parseUnary())
        }
        return items.count == 1 ? items[0] : .and(items)
    }

    private mutating func parseUnary() throws -> SearchQuery {
        skipSpace()
        let word = peekWord()
        if word == "NOT" {
            index += 3
            skipSpace()
            if atEnd { throw error("'NOT' has nothing after it", expected: "a term") }
            return .not(try parseUnary())
        }
        if word == "AND" || word == "OR" {
            throw error("'\(word)' where a term should be", expected: "a term, a phrase or '('")
        }
        if let c = current, c == "-" || c == "+", index + 1 < characters.count, !characters[index + 1].isWhitespace {
            index += 1
            let operand = try parseUnary()
            return c == "-" ? .not(operand) : operand
        }
        return try parsePrimary()
    }

    private mutating func parsePrimary() throws -> SearchQuery {
        skipSpace()
        guard let c = current else { throw error("the query ends", expected: "a term") }
        switch c {
        case "(":
            let open = index
            index += 1
            skipSpace()
            if current == ")" { throw error("empty parentheses", expected: "a term inside '( )'") }
            let inner = try parseOr()
            skipSpace()
            guard current == ")" else { throw error("'(' at column \(open + 1) is not closed", expected: "')'") }
            index += 1
            return inner
        case "\"":
            return .phrase(field: groupField, text: try readPhrase())
        case ")", "[", "]", "{", "}", ":":
            throw error("unexpected '\(c)'", expected: "a term, a phrase or '('")
        default:
            break
        }
        let start = index
        let word = peekWord()
        index += word.count
        if current == ":" {
            index += 1
            return try parseFieldValue(field: word, column: start + 1)
        }
        return bare(word, field: groupField)
    }

    private func bare(_ word: String, field: String?) -> SearchQuery {
        if word == "*" { return .all }
        if word.count > 1, word.hasSuffix("*") { return .prefix(field: field, prefix: String(word.dropLast())) }
        return .match(field: field, text: word)
    }

    private mutating func readPhrase() throws -> String {
        let open = index
        index += 1
        var text = ""
        while let c = current, c != "\"" {
            text.append(c)
            index += 1
        }
        guard current == "\"" else {
            throw error("the phrase opened at column \(open + 1) is not closed", expected: "'\"'", at: characters.count + 1)
        }
        index += 1
        return text
    }

    private mutating func parseFieldValue(field: String, column: Int) throws -> SearchQuery {
        if let fields, !fields.contains(where: { $0.name == field }) {
            throw error("unknown field '\(field)'", expected: "one of \(fields.map(\.name).joined(separator: ", ")), or quote the text to search for it", at: column)
        }
        guard let c = current, !c.isWhitespace else {
            throw error("nothing after '\(field):'", expected: "a value, a \"phrase\", a range [a TO b] or a comparison >=x")
        }
        switch c {
        case "\"":
            return .phrase(field: field, text: try readPhrase())
        case "[", "{":
            return try parseRange(field: field)
        case "(":
            let saved = groupField
            groupField = field
            defer { groupField = saved }
            return try parsePrimary()
        case ">", "<":
            index += 1
            let inclusive = current == "="
            if inclusive { index += 1 }
            let value = readValue()
            guard !value.isEmpty else { throw error("nothing after the comparison", expected: "a number or a date") }
            let bound = SearchQuery.Bound(value, inclusive: inclusive)
            return c == ">" ? .range(field: field, lower: bound, upper: nil) : .range(field: field, lower: nil, upper: bound)
        default:
            let value = readValue()
            guard !value.isEmpty else { throw error("nothing after '\(field):'", expected: "a value") }
            return bare(value, field: field)
        }
    }

    /// A value: everything up to a space, a parenthesis or a range bracket (colons allowed).
    private mutating func readValue() -> String {
        var value = ""
        while let c = current, !c.isWhitespace, !"()[]{}\"".contains(c) {
            value.append(c)
            index += 1
        }
        return value
    }

    private mutating func parseRange(field: String) throws -> SearchQuery {
        let lowerInclusive = current == "["
        index += 1
        skipSpace()
        let lower = readValue()
        guard !lower.isEmpty else { throw error("a range without a lower bound", expected: "a value or '*'") }
        skipSpace()
        guard peekWord() == "TO" else { throw error("a range needs 'TO' between its bounds", expected: "'TO'") }
        index += 2
        skipSpace()
        let upper = readValue()
        guard !upper.isEmpty else { throw error("a range without an upper bound", expected: "a value or '*'") }
        skipSpace()
        guard let close = current, close == "]" || close == "}" else {
            throw error("the range is not closed", expected: "']' or '}'")
        }
        index += 1
        return .range(field: field,
                      lower: lower == "*" ? nil : .init(lower, inclusive: lowerInclusive),
                      upper: upper == "*" ? nil : .init(upper, inclusive: close == "]"))
    }
}
