/// How analyzed query text matches index terms; the executor looks them up, snippets
/// highlight them.
package enum QueryTerms {
    /// One term of a query: matched exactly, or as a prefix.
    package enum Matcher {
        case exact(String)
        case prefix(String)
    }

    /// The matchers of analyzed query text and their offsets (see ``Analyzer``): words match
    /// exactly; a CJK run of two or more characters is its bigrams, plus its last character
    /// when something follows it in the query (the run must end there); a lone CJK character
    /// matches any term starting with it unless something follows it.
    package static func matchers(_ tokens: [Analyzer.Token], lastIsPrefix: Bool) -> [(Matcher, Int)] {
        var elements: [[Analyzer.Token]] = []
        var run: [Analyzer.Token] = []
        for token in tokens {
            if token.isCJK {
                run.append(token)
                if token.term.unicodeScalars.count == 1 {
                    elements.append(run)
                    run = []
                }
            } else {
                elements.append([token])
            }
        }
        let base = tokens.first?.position ?? 0
        var result: [(Matcher, Int)] = []
        for (k, element) in elements.enumerated() {
            let isLast = k == elements.count - 1
            if element.count == 1 {
                let token = element[0]
                let open = isLast && (token.isCJK || lastIsPrefix)
                result.append((open ? .prefix(token.term) : .exact(token.term), token.position - base))
            } else {
                for bigram in element.dropLast() { result.append((.exact(bigram.term), bigram.position - base)) }
                if !isLast, let last = element.last { result.append((.exact(last.term), last.position - base)) }
            }
        }
        return result
    }
}
