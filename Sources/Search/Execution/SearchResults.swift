import KirokuProjections
import Foundation

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
    /// The request's aggregations over all hits, by name.
    public var aggregations: [String: AggregationResult] = [:]

    enum CodingKeys: String, CodingKey { case total, hits, facets, next, aggregations }

    /// Encodes `next` as `null` on the last page.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(total, forKey: .total)
        try container.encode(hits, forKey: .hits)
        try container.encode(facets, forKey: .facets)
        try container.encode(next, forKey: .next)
        if !aggregations.isEmpty { try container.encode(aggregations, forKey: .aggregations) }
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
    /// What a join found for it in the other view (``SearchJoin``).
    public var join: SearchJoinMatch?

    enum CodingKeys: String, CodingKey { case id, score, fields, snippet, join }

    /// Encodes `snippet` as `null` when there is none.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(score, forKey: .score)
        try container.encode(fields, forKey: .fields)
        try container.encode(snippet, forKey: .snippet)
        try container.encodeIfPresent(join, forKey: .join)
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
