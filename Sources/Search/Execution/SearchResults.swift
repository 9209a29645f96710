import KirokuProjections
import Foundation

/// What to search for and how to present it.
public struct SearchRequest: Sendable {
    /// The query: text in the query language, or a built ``SearchQuery``.
    public enum Query: Sendable, Hashable {
        /// Query language text (see ``QueryParser``).
        case text(String)
        /// A query built in Swift.
        case built(SearchQuery)
    }

    /// How hits are ordered.
    public struct Sort: Sendable, Hashable {
        /// A keyword, number or date field.
        public var field: String
        /// Largest first.
        public var descending: Bool
        /// Sorts by `field`.
        public init(_ field: String, descending: Bool = false) {
            self.field = field
            self.descending = descending
        }
        /// Parses `FIELD` or `FIELD:desc` / `FIELD:asc`.
        public init(parsing text: String) {
            let parts = text.split(separator: ":", maxSplits: 1)
            self.init(String(parts.first ?? ""), descending: parts.count == 2 && parts[1].lowercased() == "desc")
        }
    }

    /// The query.
    public var query: Query
    /// Hits per page (1 to 10 000).
    public var limit: Int
    /// The `next` cursor of the previous page.
    public var after: String?
    /// Field order; `nil` orders by BM25 score (best first).
    public var sort: Sort?
    /// Keyword fields to count values of over all hits.
    public var facets: [String]
    /// Values per facet.
    public var facetSize: Int
    /// Whether hits carry a highlighted snippet of the matching text.
    public var snippets: Bool

    /// A request for query language text.
    public init(_ text: String, limit: Int = 10, after: String? = nil, sort: Sort? = nil,
                facets: [String] = [], facetSize: Int = 10, snippets: Bool = true) {
        self.init(query: .text(text), limit: limit, after: after, sort: sort, facets: facets, facetSize: facetSize, snippets: snippets)
    }

    /// A request for a built query.
    public init(query: Query, limit: Int = 10, after: String? = nil, sort: Sort? = nil,
                facets: [String] = [], facetSize: Int = 10, snippets: Bool = true) {
        self.query = query
        self.limit = limit
        self.after = after
        self.sort = sort
        self.facets = facets
        self.facetSize = facetSize
        self.snippets = snippets
    }
}

/// One page of results.
public struct SearchResults: Sendable, Encodable {
    /// How many documents match in all.
    public var total: Int
    /// This page's hits.
    public var hits: [SearchHit]
    /// Value counts over all hits, by facet field, most frequent first.
    public var facets: [String: [FacetCount]]
    /// The cursor of the next page (`after`), or `nil` on the last page.
    public var next: String?

    enum CodingKeys: String, CodingKey { case total, hits, facets, next }

    /// Encodes `next` as `null` on the last page.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(total, forKey: .total)
        try container.encode(hits, forKey: .hits)
        try container.encode(facets, forKey: .facets)
        try container.encode(next, forKey: .next)
    }
}

/// One matching document.
public struct SearchHit: Sendable, Encodable {
    /// The document's id.
    public var id: String
    /// Its BM25 score (0 for filters only).
    public var score: Double
    /// Its stored fields.
    public var fields: [String: FieldValue]
    /// A piece of its text with the matches in `<em>…</em>`, when a text field matched.
    public var snippet: String?

    enum CodingKeys: String, CodingKey { case id, score, fields, snippet }

    /// Encodes `snippet` as `null` when there is none.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(score, forKey: .score)
        try container.encode(fields, forKey: .fields)
        try container.encode(snippet, forKey: .snippet)
    }
}

/// How many hits have a value of a keyword field.
public struct FacetCount: Sendable, Hashable, Encodable {
    /// The value.
    public var value: String
    /// The number of hits with it.
    public var count: Int
}

extension FieldValue: Encodable {
    /// Text and single keywords as strings, several keywords as an array, numbers as numbers,
    /// dates as ISO 8601 strings (UTC).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .keywords(let values): if values.count == 1 { try container.encode(values[0]) } else { try container.encode(values) }
        case .number(let number): try container.encode(number)
        case .date(let seconds): try container.encode(DateValue.format(seconds))
        }
    }
}
