import Foundation
import KirokuCorpus
import KirokuProjections
import KirokuSearch

/// The query kinds `kiroku bench search` times, each a few variants, with the same query
/// described for another engine (one kind is a terms aggregation with a sum, which the other
/// engine's own aggregations run). Each returns the page's stored fields (Tantivy fetches its
/// page's stored documents too) and no snippets (Tantivy makes none) (`scripts/bench-tantivy` builds it in Tantivy from the
/// description and checks that it counts what Kiroku counts before timing anything).
struct SearchBenchQuery {
    let name: String
    let variants: [(request: SearchRequest, baseline: Baseline)]

    /// A query as another engine runs it: the text part as analyzed terms (Kiroku's own
    /// analysis), keyword filters, a date range in epoch seconds (inclusive), the sort and facets.
    struct Baseline: Encodable {
        /// `and`, `or`, `phrase` (adjacent terms) or `prefix` (one stem).
        var op: String?
        var terms: [String] = []
        var filters: [String: String] = [:]
        var dateFrom: Int?
        var dateTo: Int?
        var sort: String?
        var descending = false
        var facets: [String] = []
        var limit = 20
        /// Kiroku's query text, for the report.
        var kiroku = ""
        /// Kiroku's count of matching documents (filled before export).
        var total = 0
        /// For the terms aggregation kind: Kiroku's top owners with their counts and sums of
        /// amount (filled before export), which the other engine's aggregation must equal.
        var ownerSums: [OwnerSum]?
    }

    struct OwnerSum: Encodable {
        var key: String
        var count: Int
        var sum: Double
    }

    /// The analyzed terms of query text as the view matches them (its own `QueryTerms`): the
    /// exact terms, and the stem of a trailing prefix.
    static func terms(_ text: String) -> [String] {
        QueryTerms.matchers(Analyzer().tokens(text), lastIsPrefix: false).map { matcher, _ in
            switch matcher {
            case .exact(let term), .prefix(let term): term
            }
        }
    }

    private static func text(_ query: String, op: String, limit: Int = 20) -> Baseline {
        let words = op == "or" ? query.components(separatedBy: " OR ") : [query]
        return Baseline(op: op, terms: words.flatMap { terms($0.replacingOccurrences(of: "*", with: "")) }, limit: limit, kiroku: query)
    }

    static let kinds: [SearchBenchQuery] = {
        let startOfYear = { (year: Int) in Int(ISO8601DateFormatter().date(from: "\(year)-01-01T00:00:00Z")!.timeIntervalSince1970) }
        var filters: [(SearchRequest, Baseline)] = []
        for i in 0..<12 {
            let owner = ActivityCorpus.owner(i % 20), customer = ActivityCorpus.customer(i % 40), year = 2022 + i % 3
            let query = "owner:\(owner) customer:\(customer) status:open date:[\(year)-01-01 TO \(year)-12-31T23:59:59Z]"
            filters.append((SearchRequest(query, limit: 20, sort: .init("date", descending: true), snippets: false),
                            Baseline(filters: ["owner": owner, "customer": customer, "status": "open"], dateFrom: startOfYear(year),
                                     dateTo: startOfYear(year + 1) - 1, sort: "date", descending: true, kiroku: query)))
        }
        func plain(_ queries: [String], op: String, status: String? = nil, facets: [String] = [], sort: String? = nil) -> [(SearchRequest, Baseline)] {
            queries.map { query in
                let full = status.map { "\(query) status:\($0)" } ?? query
                var baseline = text(query, op: op)
                baseline.kiroku = full
                if let status { baseline.filters["status"] = status }
                baseline.facets = facets
                if let sort {
                    baseline.sort = sort
                    baseline.descending = true
                }
                return (SearchRequest(full, limit: 20, sort: sort.map { .init($0, descending: true) }, facets: facets, snippets: false), baseline)
            }
        }
        return [
            SearchBenchQuery(name: "three filters + date range, by date", variants: filters),
            SearchBenchQuery(name: "two-character Japanese term + filter",
                             variants: plain(["見積", "訪問", "電話", "東京", "契約", "導入"], op: "and", status: "won")),
            SearchBenchQuery(name: "Japanese phrase",
                             variants: plain(["\"見積を送付\"", "\"デモを実施\"", "\"打ち合わせ\"", "\"再訪問予定\""], op: "phrase")),
            SearchBenchQuery(name: "English term", variants: plain(["renewal", "demo", "quote", "discount"], op: "and")),
            SearchBenchQuery(name: "facets over a phrase's hits",
                             variants: plain(["\"打ち合わせ\"", "\"デモを実施\""], op: "phrase", facets: ["status", "owner"])),
            SearchBenchQuery(name: "top owners with a sum over a phrase's hits",
                             variants: ["\"打ち合わせ\"", "\"デモを実施\""].map { query in
                                 var baseline = text(query, op: "phrase", limit: 1)
                                 baseline.ownerSums = []
                                 return (SearchRequest(query, limit: 1, snippets: false,
                                                       aggregations: ["owners": .terms("owner", size: 10, sub: ["amount": .sum("amount")])]), baseline)
                             }),
            SearchBenchQuery(name: "three English terms (AND)",
                             variants: plain(["send revised quote", "schedule demo cto", "follow next week", "asked for discount"], op: "and")),
            SearchBenchQuery(name: "two terms (OR)",
                             variants: plain(["renewal OR discount", "demo OR quote", "pricing OR migration", "approval OR competitor"], op: "or")),
            SearchBenchQuery(name: "prefix", variants: plain(["renew*", "migr*", "discou*", "pric*"], op: "prefix")),
            SearchBenchQuery(name: "term sorted by amount",
                             variants: plain(["見積", "quote", "契約", "demo"], op: "and", sort: "amount")),
        ]
    }()

    /// Writes `documents.jsonl` (every document of the view: id, stored fields, the text's
    /// terms in position order) and `queries.json` (every kind with its variants and Kiroku's
    /// counts) into `directory`.
    static func export(_ reader: ProjectionReader, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let documents = directory + "/documents.jsonl"
        _ = FileManager.default.createFile(atPath: documents, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: documents))
        defer { try? out.close() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var after: String?
        repeat {
            let page = try reader.search(SearchRequest("*", limit: 10_000, after: after))
            var chunk = Data()
            for hit in page.hits {
                struct Line: Encodable {
                    var id: String
                    var tokens: String
                    var owner, customer, status: String?
                    var amount: Double?
                    var date: Double?
                }
                func keyword(_ name: String) -> String? {
                    if case .keywords(let values)? = hit.fields[name] { return values.first }
                    return nil
                }
                var text = ""
                if case .text(let value)? = hit.fields["text"] { text = value }
                var amount: Double?
                if case .number(let value)? = hit.fields["amount"] { amount = value }
                var date: Double?
                if case .date(let value)? = hit.fields["date"] { date = value }
                let line = Line(id: hit.id, tokens: Analyzer().tokens(text).sorted { $0.position < $1.position }.map(\.term).joined(separator: " "),
                                owner: keyword("owner"), customer: keyword("customer"), status: keyword("status"), amount: amount, date: date)
                chunk.append(try encoder.encode(line))
                chunk.append(0x0A)
            }
            try out.write(contentsOf: chunk)
            after = page.next
        } while after != nil
        struct Kind: Encodable {
            var name: String
            var variants: [Baseline]
        }
        var kinds: [Kind] = []
        for kind in Self.kinds {
            var variants: [Baseline] = []
            for (request, baseline) in kind.variants {
                var counted = baseline
                let results = try reader.search(request)
                counted.total = results.total
                if counted.ownerSums != nil, case .buckets(let buckets, _)? = results.aggregations["owners"] {
                    counted.ownerSums = buckets.map { bucket in
                        guard case .value(let sum, _)? = bucket.aggregations["amount"] else { return OwnerSum(key: bucket.key, count: bucket.count, sum: 0) }
                        return OwnerSum(key: bucket.key, count: bucket.count, sum: sum ?? 0)
                    }
                }
                variants.append(counted)
            }
            kinds.append(Kind(name: kind.name, variants: variants))
        }
        try encoder.encode(kinds).write(to: URL(fileURLWithPath: directory + "/queries.json"))
    }
}
