import KirokuFeed
import Foundation
import KirokuTestSupport
import KirokuLog
import Testing
@testable import KirokuProjections
@testable import KirokuSearch

/// Random documents, updates, deletes and random queries: the view answers exactly what a
/// brute-force scan of the same documents answers. Prints its seed; replay with KIROKU_SEED.
// 6 minutes: a hang guard. Under the full suite this test took 145-181 s (it yields before each query), against 28 s alone.
@Suite(.timeLimit(.minutes(6))) struct SearchDifferentialTests {
    static let japanese = ["東京", "京都", "特許", "許可", "局", "会議", "議事録", "顧客", "営業", "報告", "見積", "アポ",
                           "訪問", "電話", "メール", "の", "を", "に", "は", "東", "大阪", "商談", "ｶﾞｽ", "ガス"]
    static let english = ["meeting", "customer", "report", "call", "visit", "quote", "follow", "up", "email", "demo", "Meet", "ＤＥＭＯ"]
    static let owners = ["alice", "bob", "carol", "dave", "Eve"]
    static let statuses = ["open", "won", "lost"]
    /// Tags: several per document, repeats inside one, and `café` composed and decomposed
    /// (equal as Swift Strings, different keywords for the index).
    static let tags = ["café", "cafe\u{301}", "x", "y", "z"]
    /// Dates: whole seconds of 2024 and some fractions.
    static let firstDate = 1_704_067_200.0

    /// A document as the brute force sees it.
    struct Doc {
        var text: String?
        var owner: String?
        var status: String?
        var amount: Double?
        var tags: [String]?
        var date: Double?
    }

    func randomTags(_ random: inout SeededGenerator) -> [String] {
        (0..<Int.random(in: 0...3, using: &random)).map { _ in Self.tags.randomElement(using: &random)! }
    }

    func randomDate(_ random: inout SeededGenerator) -> Double {
        Self.firstDate + Double(Int.random(in: 0..<2_000, using: &random)) + (Bool.random(using: &random) ? 0 : 0.5)
    }

    static func iso(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

    func randomText(_ random: inout SeededGenerator) -> String {
        var parts: [String] = []
        for _ in 0..<Int.random(in: 1...8, using: &random) {
            if Double.random(in: 0..<1, using: &random) < 0.7 {
                parts.append((0..<Int.random(in: 1...3, using: &random)).map { _ in Self.japanese.randomElement(using: &random)! }.joined())
            } else {
                parts.append(Self.english.randomElement(using: &random)!)
            }
            parts.append(["、", " ", "。", " "].randomElement(using: &random)!)
        }
        return parts.joined()
    }

    // MARK: Brute force

    let analyzer = Analyzer()

    /// The words of a text in order; a CJK run stands between words as an empty string.
    func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inRun = false
        for character in analyzer.normalize(text) {
            if character.isASCII && (character.isLetter || character.isNumber) {
                current.append(character)
                inRun = false
                continue
            }
            if !current.isEmpty { words.append(current); current = "" }
            if Analyzer.isCJK(character.unicodeScalars.first!.value) {
                if !inRun { words.append("") }
                inRun = true
            } else {
                inRun = false
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    func isCJK(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { Analyzer.isCJK($0.value) }
    }

    func matches(_ query: SearchQuery, _ doc: Doc) -> Bool {
        switch query {
        case .all: return true
        case .match(let field, let text), .phrase(let field, let text):
            switch field {
            case "owner": return doc.owner == text
            case "status": return doc.status == text
            case "amount": return doc.amount == Double(text)
            case "tags": return doc.tags?.contains { $0.utf8Equals(text) } ?? false
            default:
                guard let body = doc.text else { return false }
                let q = analyzer.normalize(text)
                if isCJK(q) { return analyzer.normalize(body).contains(q) }
                let wanted = words(text)
                let have = words(body)
                guard !wanted.isEmpty, have.count >= wanted.count else { return false }
                return (0...(have.count - wanted.count)).contains { Array(have[$0..<$0 + wanted.count]) == wanted }
            }
        case .prefix(let field, let prefix):
            if field == "owner" { return doc.owner?.hasPrefix(prefix) ?? false }
            return words(doc.text ?? "").contains { !$0.isEmpty && $0.hasPrefix(analyzer.normalize(prefix)) }
        case .range("date", let lower, let upper):
            // Bounds written to the second stand for the whole second.
            guard let date = doc.date else { return false }
            if let lower, let low = DateValue.parse(lower.value), date < (lower.inclusive ? low : low + 1) { return false }
            if let upper, let high = DateValue.parse(upper.value), date >= (upper.inclusive ? high + 1 : high) { return false }
            return true
        case .range(_, let lower, let upper):
            guard let amount = doc.amount else { return false }
            if let lower, let low = Double(lower.value), lower.inclusive ? amount < low : amount <= low { return false }
            if let upper, let high = Double(upper.value), upper.inclusive ? amount > high : amount >= high { return false }
            return true
        case .and(let items): return items.allSatisfy { matches($0, doc) }
        case .or(let items): return items.contains { matches($0, doc) }
        case .not(let inner): return !matches(inner, doc)
        }
    }

    // MARK: Random queries

    func randomLeaf(_ random: inout SeededGenerator, docs: [String: Doc]) -> SearchQuery {
        switch Int.random(in: 0..<10, using: &random) {
        case 0, 1:
            // A Japanese substring of some document (1 to 4 characters), or a vocabulary word.
            if let text = docs.values.compactMap(\.text).randomElement(using: &random) {
                let runs = analyzer.normalize(text).split { !Analyzer.isCJK($0.unicodeScalars.first!.value) }
                if let run = runs.randomElement(using: &random).map(Array.init), !run.isEmpty {
                    let start = Int.random(in: 0..<run.count, using: &random)
                    let length = Int.random(in: 1...min(4, run.count - start), using: &random)
                    let text = String(run[start..<start + length])
                    return Bool.random(using: &random) ? .match(field: nil, text: text) : .phrase(field: "text", text: text)
                }
            }
            return .match(field: nil, text: Self.japanese.randomElement(using: &random)!)
        case 2:
            return .match(field: Bool.random(using: &random) ? nil : "text", text: Self.english.randomElement(using: &random)!)
        case 3:
            let a = Self.english.randomElement(using: &random)!, b = Self.english.randomElement(using: &random)!
            return .phrase(field: nil, text: "\(a) \(b)")
        case 4:
            return .prefix(field: nil, prefix: String(Self.english.randomElement(using: &random)!.prefix(Int.random(in: 1...3, using: &random))))
        case 5:
            return .match(field: "owner", text: Self.owners.randomElement(using: &random)!)
        case 6:
            return .match(field: "status", text: Self.statuses.randomElement(using: &random)!)
        case 7:
            return .match(field: "tags", text: Self.tags.randomElement(using: &random)!)
        case 8:
            let low = randomDate(&random).rounded(.down)
            return .range(field: "date", lower: Bool.random(using: &random) ? nil : .init(Self.iso(low), inclusive: Bool.random(using: &random)),
                          upper: .init(Self.iso(low + Double(Int.random(in: 0...600, using: &random))), inclusive: Bool.random(using: &random)))
        default:
            let low = Int.random(in: 0...800, using: &random)
            return .range(field: "amount", lower: Bool.random(using: &random) ? nil : .init(String(low), inclusive: Bool.random(using: &random)),
                          upper: .init(String(low + Int.random(in: 0...300, using: &random)), inclusive: Bool.random(using: &random)))
        }
    }

    func randomQuery(_ random: inout SeededGenerator, docs: [String: Doc], depth: Int = 0) -> SearchQuery {
        guard depth < 2, Int.random(in: 0..<3, using: &random) == 0 else { return randomLeaf(&random, docs: docs) }
        let items = (0..<Int.random(in: 2...3, using: &random)).map { _ in randomQuery(&random, docs: docs, depth: depth + 1) }
        switch Int.random(in: 0..<4, using: &random) {
        case 0: return .or(items)
        case 1: return .and([items[0], .not(items[1])])
        default: return .and(items)
        }
    }

    @Test func randomQueriesMatchABruteForceScan() async throws {
        let seed = SeededGenerator.seed(label: "randomQueriesMatchABruteForceScan")
        var random = SeededGenerator(seed: seed)
        let mapping = """
        {"types": ["Saved", "Edited"], "id": "key", "deleteOn": ["Deleted"],
         "fields": {"text": {"path": "$.text", "type": "text"}, "owner": {"path": "$.owner", "type": "keyword"},
                    "status": {"path": "$.status", "type": "keyword"}, "amount": {"path": "$.amount", "type": "number"},
                    "tags": {"path": "$.tags[*]", "type": "keyword"}, "date": {"path": "$.date", "type": "date"}}}
        """
        // Small batches so updates and deletes meet documents of earlier batches.
        try await withSearchView(mapping: mapping, batchSize: 7) { view in
            var docs: [String: Doc] = [:]
            // More documents than a block of doc values (512), then changes among them.
            for round in 0..<4 {
                for _ in 0..<(round == 0 ? 700 : 150) {
                    let key = "d\(Int.random(in: 0..<(round == 0 ? 100_000 : 800), using: &random))"
                    let roll = Int.random(in: 0..<10, using: &random)
                    if roll == 0 {
                        try await view.log.append(to: key, jsonEvent("Deleted", [:]))
                        docs[key] = nil
                    } else if roll < 4, docs[key] != nil {
                        // A partial edit: some fields change, the others stay.
                        var fields: [String: Any] = [:]
                        var doc = docs[key]!
                        if Bool.random(using: &random) { doc.text = randomText(&random); fields["text"] = doc.text }
                        if Bool.random(using: &random) { doc.owner = Self.owners.randomElement(using: &random); fields["owner"] = doc.owner }
                        if Bool.random(using: &random) { doc.amount = Double(Int.random(in: 0...1000, using: &random)); fields["amount"] = doc.amount }
                        // An empty list maps to no value: the tags stay as they were.
                        if Bool.random(using: &random) {
                            let tags = randomTags(&random)
                            if !tags.isEmpty { doc.tags = tags }
                            fields["tags"] = tags
                        }
                        if Bool.random(using: &random) { doc.date = randomDate(&random); fields["date"] = doc.date }
                        try await view.log.append(to: key, jsonEvent("Edited", fields))
                        docs[key] = doc
                    } else {
                        // Some documents lack an amount or a date (they sort last).
                        let doc = Doc(text: randomText(&random), owner: Self.owners.randomElement(using: &random),
                                      status: Self.statuses.randomElement(using: &random),
                                      amount: Int.random(in: 0..<10, using: &random) == 0 ? nil : Double(Int.random(in: 0...1000, using: &random)),
                                      tags: randomTags(&random), date: Int.random(in: 0..<10, using: &random) == 0 ? nil : randomDate(&random))
                        var fields: [String: Any] = ["text": doc.text!, "owner": doc.owner!, "status": doc.status!, "tags": doc.tags!]
                        if let amount = doc.amount { fields["amount"] = amount }
                        if let date = doc.date { fields["date"] = date }
                        try await view.log.append(to: key, jsonEvent("Saved", fields))
                        // An upsert merges: fields it lacks keep their values.
                        var merged = doc
                        if let old = docs[key] {
                            merged.amount = doc.amount ?? old.amount
                            merged.date = doc.date ?? old.date
                            if doc.tags!.isEmpty { merged.tags = old.tags }
                        }
                        docs[key] = merged
                    }
                }
                // An AND's score is its clauses' scores added, whatever candidates a clause
                // was given (a term scores only those an earlier clause left).
                for _ in 0..<20 {
                    let x = randomLeaf(&random, docs: docs), y = randomLeaf(&random, docs: docs)
                    func scores(_ query: SearchQuery) async throws -> [String: Double] {
                        let page = try await view.search(SearchRequest(query: .built(query), limit: 10_000, snippets: false))
                        return Dictionary(page.hits.map { ($0.id, $0.score) }, uniquingKeysWith: { a, _ in a })
                    }
                    let (sx, sy, both) = (try await scores(x), try await scores(y), try await scores(.and([x, y])))
                    let wrong = both.first { id, score in abs(score - ((sx[id] ?? 0) + (sy[id] ?? 0))) > 1e-4 * max(1, abs(score)) }
                    #expect(wrong == nil, "seed \(seed): score of \(String(describing: wrong)) in \(SearchQuery.and([x, y]))")
                }
                for _ in 0..<150 {
                    let query = randomQuery(&random, docs: docs)
                    let expected = Set(docs.filter { matches(query, $0.value) }.keys)
                    let results = try await view.search(SearchRequest(query: .built(query), limit: 10_000, facets: ["owner", "tags"],
                                                                      facetSize: 100, snippets: false))
                    #expect(Set(results.hits.map(\.id)) == expected, "seed \(seed), round \(round): \(query)")
                    #expect(results.total == expected.count, "seed \(seed): \(query)")
                    // Facets count each distinct value (by its bytes) once per document.
                    var owners: [[UInt8]: Int] = [:], tags: [[UInt8]: Int] = [:]
                    for key in expected {
                        if let owner = docs[key]?.owner { owners[Array(owner.utf8), default: 0] += 1 }
                        for tag in Set((docs[key]?.tags ?? []).map { Array($0.utf8) }) { tags[tag, default: 0] += 1 }
                    }
                    func counted(_ name: String) -> [[UInt8]: Int] {
                        Dictionary(uniqueKeysWithValues: (results.facets[name] ?? []).map { (Array($0.value.utf8), $0.count) })
                    }
                    #expect(counted("owner") == owners, "seed \(seed): owner facets of \(query)")
                    #expect(counted("tags") == tags, "seed \(seed): tags facets of \(query)")
                    // Sorted by a field: the hits' values in order, documents without one last.
                    let field = ["amount", "date", "tags", "owner"].randomElement(using: &random)!
                    let descending = Bool.random(using: &random)
                    let sorted = try await view.search(SearchRequest(query: .built(query), limit: 10_000, sort: .init(field, descending: descending), snippets: false))
                    let keys = sorted.hits.map { hit -> SortKey in
                        let doc = docs[hit.id]!
                        switch field {
                        case "amount": return doc.amount.map(SortKey.number) ?? .missing
                        case "date": return doc.date.map(SortKey.number) ?? .missing
                        case "tags": return doc.tags?.first.map(SortKey.keyword) ?? .missing
                        default: return doc.owner.map(SortKey.keyword) ?? .missing
                        }
                    }
                    let inOrder = zip(keys, keys.dropFirst()).allSatisfy { a, b in
                        switch (a, b) {
                        case (.number(let x), .number(let y)): return descending ? x >= y : x <= y
                        case (.keyword(let x), .keyword(let y)): return descending ? x >= y : x <= y
                        case (_, .missing): return true
                        case (.missing, _): return false
                        default: return false
                        }
                    }
                    #expect(Set(sorted.hits.map(\.id)) == expected && inOrder, "seed \(seed): \(query) sorted by \(field), descending \(descending): \(keys.prefix(20))")
                    // Pages sorted by amount cover the same documents once each, in order.
                    if expected.count < 60 {
                        var paged: [String] = []
                        var after: String?
                        repeat {
                            let page = try await view.search(SearchRequest(query: .built(query), limit: 7, after: after,
                                                                           sort: .init("amount", descending: descending), snippets: false))
                            paged += page.hits.map(\.id)
                            after = page.next
                        } while after != nil
                        #expect(paged.count == expected.count && Set(paged) == expected, "seed \(seed): pages of \(query)")
                    }
                }
            }
        }
    }
}
