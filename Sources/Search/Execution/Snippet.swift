import KirokuProjections
/// Highlighted snippets: the text around the first match, with matched terms in `<em>…</em>`.
struct Snippet {
    /// Terms to highlight: exact terms, and prefixes (a prefix query, a lone CJK character).
    var exact: Set<String> = []
    var prefixes: [String] = []

    var isEmpty: Bool { exact.isEmpty && prefixes.isEmpty }

    /// Scalars (characters, for most text) of context before the first match, and the
    /// snippet's length.
    static let before = 30
    static let length = 120

    func highlight(_ text: String, analyzer: Analyzer) -> String? {
        // Matched tokens, narrowed to the matched characters where a one-character CJK query
        // matched the first character of a bigram.
        let tokens = analyzer.tokens(text).compactMap { token -> Analyzer.Token? in
            if exact.contains(token.term) { return token }
            guard let prefix = prefixes.first(where: { token.term.hasPrefix($0) }) else { return nil }
            var narrowed = token
            if token.isCJK {
                narrowed.range = token.range.lowerBound..<min(token.range.upperBound, token.range.lowerBound + prefix.unicodeScalars.count)
            }
            return narrowed
        }
        guard let first = tokens.first else { return nil }
        let characters = Array(text.unicodeScalars)
        func string(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(characters[range])) }
        var start = max(0, first.range.lowerBound - Self.before)
        // Do not start inside a word (of an alphabetic script).
        func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
            scalar.isASCII ? (scalar.properties.isAlphabetic || scalar.properties.numericType != nil) : false
        }
        while start > 0, start < first.range.lowerBound, isWordScalar(characters[start - 1]), isWordScalar(characters[start]) {
            start += 1
        }
        while start > 0, start < first.range.lowerBound, characters[start].properties.isWhitespace {
            start += 1
        }
        let end = min(characters.count, start + Self.length)
        // Merge overlapping and touching ranges (CJK bigrams overlap).
        var ranges: [Range<Int>] = []
        for token in tokens where token.range.lowerBound < end && token.range.upperBound > start {
            let range = max(start, token.range.lowerBound)..<min(end, token.range.upperBound)
            if let last = ranges.last, range.lowerBound <= last.upperBound {
                ranges[ranges.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                ranges.append(range)
            }
        }
        var out = start > 0 ? "…" : ""
        var cursor = start
        for range in ranges {
            out += string(cursor..<range.lowerBound)
            out += "<em>" + string(range) + "</em>"
            cursor = range.upperBound
        }
        out += string(cursor..<end)
        if end < characters.count { out += "…" }
        return out
    }

    /// The terms a query highlights in text field `field` (matches outside a NOT).
    static func terms(of query: SearchQuery, field: String, analyzer: Analyzer) -> Snippet {
        var snippet = Snippet()
        func visit(_ query: SearchQuery) {
            switch query {
            case .match(let name, let text), .phrase(let name, let text):
                guard name == nil || name == field else { return }
                add(text, lastIsPrefix: false)
            case .prefix(let name, let text):
                guard name == nil || name == field else { return }
                add(text, lastIsPrefix: true)
            case .and(let items), .or(let items):
                items.forEach(visit)
            case .all, .range, .not:
                return
            }
        }
        func add(_ text: String, lastIsPrefix: Bool) {
            for (matcher, _) in QueryTerms.matchers(analyzer.tokens(text), lastIsPrefix: lastIsPrefix) {
                switch matcher {
                case .exact(let term): snippet.exact.insert(term)
                case .prefix(let prefix): snippet.prefixes.append(prefix)
                }
            }
        }
        visit(query)
        return snippet
    }
}
