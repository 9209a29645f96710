import Foundation

/// An aggregation over a query's hits: exact, computed from the view's doc values (see
/// ``SearchRequest/aggregations``). Bucket aggregations take sub-aggregations, computed over
/// each bucket's hits.
///
/// ```swift
/// // Per month (Tokyo time), per owner, the sum of amount, over the hits of 見積:
/// let request = SearchRequest("見積", aggregations: [
///     "by_month": .dateHistogram("date", .month, timeZone: TimeZone(identifier: "Asia/Tokyo")!, sub: [
///         "by_owner": .terms("owner", size: 5, sub: ["total": .sum("amount")]),
///     ]),
/// ])
/// ```
///
/// The same in the text form `kiroku search --agg` and the HTTP API take
/// (``AggregationParser``): `by_month=date_histogram(date, month, Asia/Tokyo) > terms(owner, 5) > sum(amount)`.
public indirect enum Aggregation: Sendable, Hashable {
    /// The number of hits.
    case count
    /// Metrics of a number or date field over the hits that hold it (a date's are seconds
    /// since 1970).
    case sum(String)
    case avg(String)
    case min(String)
    case max(String)
    /// Count, sum, min, max and avg at once.
    case stats(String)
    /// The `size` most frequent values of a keyword field, most frequent first (ties by value
    /// bytes), with the count of hits holding other values (`other`). A hit counts once per
    /// distinct value it holds.
    case terms(String, size: Int = 10, sub: [String: Aggregation] = [:])
    /// Buckets of a number field `interval` wide (`floor(value / interval) * interval`), empty
    /// buckets between the first and the last included.
    case histogram(String, interval: Double, sub: [String: Aggregation] = [:])
    /// Calendar buckets of a date field in a time zone: a day, a week (from Monday) or a month
    /// from local midnight, so a bucket across a daylight-saving change is 23 or 25 hours long.
    case dateHistogram(String, CalendarInterval, timeZone: TimeZone = TimeZone(identifier: "UTC")!, sub: [String: Aggregation] = [:])
    /// Buckets of a number or date field between bounds: `from` included, `to` excluded; an
    /// open end is `nil`. Ranges may overlap.
    case range(String, [AggregationRange], sub: [String: Aggregation] = [:])

    /// The calendar intervals of ``dateHistogram(_:_:timeZone:sub:)``.
    public enum CalendarInterval: String, Sendable, Hashable, CaseIterable {
        case day, week, month, year
    }

    /// The field it reads, if any.
    public var field: String? {
        switch self {
        case .count: nil
        case .sum(let f), .avg(let f), .min(let f), .max(let f), .stats(let f): f
        case .terms(let f, _, _), .histogram(let f, _, _), .dateHistogram(let f, _, _, _), .range(let f, _, _): f
        }
    }

    /// Its sub-aggregations (none for a metric).
    public var sub: [String: Aggregation] {
        switch self {
        case .terms(_, _, let sub), .histogram(_, _, let sub), .dateHistogram(_, _, _, let sub), .range(_, _, let sub): sub
        default: [:]
        }
    }
}

/// One bucket bound of a range aggregation: `from` included, `to` excluded.
public struct AggregationRange: Sendable, Hashable {
    public var from: Double?
    public var to: Double?
    /// The bucket's key; default `from-to` with `*` for an open end.
    public var key: String?

    public init(from: Double? = nil, to: Double? = nil, key: String? = nil) {
        self.from = from
        self.to = to
        self.key = key
    }
}

/// What an aggregation found.
public indirect enum AggregationResult: Sendable, Hashable, Encodable {
    /// A metric: `nil` when no hit holds the field (avg, min, max); a date field's metric
    /// also as ISO 8601 text.
    case value(Double?, text: String?)
    /// Count, sum, min, max, avg.
    case stats(AggregationStats)
    /// Buckets in order (terms: by count; histograms and ranges: by key), and for terms the
    /// hits holding values not among them.
    case buckets([AggregationBucket], other: Int?)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .value(let value, let text):
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(value, forKey: .value)
            if let text { try container.encode(text, forKey: .text) }
        case .stats(let stats):
            try stats.encode(to: encoder)
        case .buckets(let buckets, let other):
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(buckets, forKey: .buckets)
            if let other { try container.encode(other, forKey: .other) }
        }
    }

    enum Key: String, CodingKey { case value, text, buckets, other }

    /// The buckets (empty for a metric).
    public var buckets: [AggregationBucket] {
        if case .buckets(let buckets, _) = self { return buckets }
        return []
    }

    /// The metric's value (nil for buckets).
    public var value: Double? {
        switch self {
        case .value(let value, _): value
        case .stats(let stats): stats.sum
        case .buckets: nil
        }
    }
}

/// The result of a stats aggregation.
public struct AggregationStats: Sendable, Hashable, Codable {
    public var count: Int
    public var sum: Double
    public var min: Double?
    public var max: Double?
    public var avg: Double?
}

/// One bucket: its key, its bounds (histograms and ranges), its hit count and its
/// sub-aggregations.
public struct AggregationBucket: Sendable, Hashable, Encodable {
    /// The keyword, the histogram's lower bound, the date bucket's local start (ISO 8601 with
    /// the zone's offset), or the range's key.
    public var key: String
    /// Lower bound (included) and upper bound (excluded), when the bucket has them; a date
    /// bucket's in seconds since 1970.
    public var from: Double?
    public var to: Double?
    /// Hits in the bucket.
    public var count: Int
    /// Sub-aggregations over the bucket's hits.
    public var aggregations: [String: AggregationResult]

    enum CodingKeys: String, CodingKey { case key, from, to, count, aggregations }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encodeIfPresent(from, forKey: .from)
        try container.encodeIfPresent(to, forKey: .to)
        try container.encode(count, forKey: .count)
        if !aggregations.isEmpty { try container.encode(aggregations, forKey: .aggregations) }
    }
}
