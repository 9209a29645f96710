import Foundation
import KirokuLog
import KirokuProjections

/// A join of two search views of one store: the documents of view A (the one searched) whose
/// id, or a keyword field, is among the values a keyword field of view B holds in B's
/// documents that match B's query. "Deals whose activities mention 見積 in the last 90 days":
///
/// ```swift
/// let join = SearchJoin(view: "activities", query: "見積 date:>=2024-10-01", field: "deal",
///                       metric: .sum("amount"), orderBy: .count)
/// let deals = try runner.searchJoined("deals", SearchRequest("stage:open"), joining: join, atOrAfter: appended.position)
/// // each hit's `join` has how many of B's matches point at it, and the sum of their amount
/// ```
///
/// B's match count per A document (and a metric over B's matches: sum, avg, min or max of a
/// number or date field) filters A (`minCount`) and can order it (`orderBy`; then a hit's
/// `score` is that value, and pages follow the cursor as usual).
public struct SearchJoin: Sendable {
    /// What orders A's hits.
    public enum Order: Sendable, Hashable {
        /// B's match count.
        case count
        /// The metric over B's matches.
        case metric
    }

    /// View B's name.
    public var view: String
    /// B's query.
    public var query: SearchRequest.Query
    /// B's keyword field that holds A's id (or A's `localField` values).
    public var field: String
    /// A's keyword field to match instead of A's document id.
    public var localField: String?
    /// A's documents with fewer of B's matches are left out.
    public var minCount: Int
    /// `.sum`, `.avg`, `.min` or `.max` of one of B's number or date fields, over the B matches
    /// of each A document.
    public var metric: Aggregation?
    /// Orders A's hits by B's count or the metric (else A's own order: score or sort).
    public var orderBy: Order?
    /// Largest first (default) when ordered by the join.
    public var descending: Bool

    /// A join with B's query as text.
    public init(view: String, query: String, field: String, localField: String? = nil, minCount: Int = 1,
                metric: Aggregation? = nil, orderBy: Order? = nil, descending: Bool = true) {
        self.init(view: view, query: .text(query), field: field, localField: localField, minCount: minCount,
                  metric: metric, orderBy: orderBy, descending: descending)
    }

    /// A join with B's query built.
    public init(view: String, query: SearchRequest.Query, field: String, localField: String? = nil, minCount: Int = 1,
                metric: Aggregation? = nil, orderBy: Order? = nil, descending: Bool = true) {
        self.view = view
        self.query = query
        self.field = field
        self.localField = localField
        self.minCount = minCount
        self.metric = metric
        self.orderBy = orderBy
        self.descending = descending
    }
}

extension SearchJoin {
    /// A join from its text form, as `kiroku search --join` and the HTTP API's `join=` take it:
    /// `VIEW:FIELD[:LOCAL]`, B's query (`*` for every document), the minimum count, a metric
    /// (`sum(F)`, `avg(F)`, `min(F)`, `max(F)`) and an order (`count` or `metric`, `:asc` for
    /// smallest first).
    ///
    /// - Throws: ``KirokuError/Code/invalidQuery`` saying what to write.
    public init(parsing spec: String, query: String = "*", minCount: Int = 1, metric: String? = nil, order: String? = nil) throws {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), !parts[0].isEmpty, !parts[1].isEmpty, parts.count == 2 || !parts[2].isEmpty else {
            throw KirokuError(.invalidQuery, "Invalid join '\(spec)': write VIEW:FIELD or VIEW:FIELD:LOCAL, e.g. activities:deal (docs/SEARCH.md#joins).")
        }
        var orderBy: Order?
        var descending = true
        if let order {
            let pieces = order.lowercased().split(separator: ":")
            switch pieces.first {
            case "count": orderBy = .count
            case "metric": orderBy = .metric
            default: throw KirokuError(.invalidQuery, "Invalid join order '\(order)': write count or metric, optionally :asc (smallest first).")
            }
            guard pieces.count == 1 || (pieces.count == 2 && ["asc", "desc"].contains(pieces[1])) else {
                throw KirokuError(.invalidQuery, "Invalid join order '\(order)': write count or metric, optionally :asc (smallest first).")
            }
            descending = !(pieces.count > 1 && pieces[1] == "asc")
        }
        self.init(view: parts[0], query: query.trimmingCharacters(in: .whitespaces) == "*" ? .built(.all) : .text(query), field: parts[1],
                  localField: parts.count == 3 ? parts[2] : nil, minCount: minCount,
                  metric: try metric.map { try AggregationParser.parse($0).aggregation }, orderBy: orderBy, descending: descending)
    }
}

/// What a hit of A got from B through a join.
public struct SearchJoinMatch: Sendable, Hashable, Encodable {
    /// B's matching documents that point at this hit.
    public var count: Int
    /// The join's metric over them (`nil` without a metric, or when none holds the field).
    public var metric: Double?
}

/// B's side of a join, computed in B's read transaction: per join value (its bytes), the count
/// of B's matches holding it and the metric's accumulation.
struct JoinSide {
    /// B's matches holding one join value, and the statistics of the metric's field over them.
    struct Accumulated {
        var count = 0
        var stats = AggregationStats()
    }

    var values: [[UInt8]: Accumulated] = [:]
    let kind: String?

    static func compute(_ join: SearchJoin, in store: KeyValueStore) throws -> JoinSide {
        guard join.minCount >= 0 else { throw SearchSchema.invalid("the join's minCount is \(join.minCount); give 0 or more") }
        return try store.read { txn in
            guard let fields = try IndexStats.schema(txn) else { return JoinSide(kind: nil) }
            let query: SearchQuery
            switch join.query {
            case .text(let text): query = try QueryParser.parse(text, fields: fields)
            case .built(let built): query = built
            }
            let executor = try QueryExecutor(txn: txn, fields: fields, stats: try IndexStats(txn))
            let (field, declared) = try executor.schema.resolve(join.field)
            guard declared.type == .keyword else {
                throw SearchSchema.invalid("the join's field '\(join.field)' of view '\(join.view)' is a \(declared.type.rawValue) field; join on a keyword field")
            }
            let docs = try executor.evaluate(query).docs
            var side = JoinSide(kind: join.metric.map(AggregationExecution.kind))
            // Each hit's values as bucket numbers (most hits hold one): counted without a byte
            // string per hit, the metric in one pass over its field.
            var metricField: Int?
            switch join.metric {
            case nil: break
            case .sum(let name)?, .avg(let name)?, .min(let name)?, .max(let name)?:
                let (index, declared) = try executor.schema.resolve(name)
                guard declared.type == .number || declared.type == .date else {
                    throw SearchSchema.invalid("the join's metric field '\(name)' is a \(declared.type.rawValue) field; give a number or date field")
                }
                metricField = index
            case let other?:
                throw SearchSchema.invalid("the join's metric is \(AggregationExecution.kind(other)); give sum, avg, min or max of a field of '\(join.view)'")
            }
            let (buckets, distinct, stats) = try HitBuckets.keywords(field, of: docs, values: executor.values, keepingPairs: false, metric: metricField)
            side.values = Dictionary(uniqueKeysWithValues: distinct.indices.map { bucket in
                (distinct[bucket], Accumulated(count: buckets.counts[bucket], stats: stats[bucket]))
            })
            return side
        }
    }

    /// The match of a document that points at these values (several values: B's matches of
    /// each added up).
    func match(_ keys: [[UInt8]]) -> SearchJoinMatch {
        var total = Accumulated()
        for key in keys {
            guard let found = values[key] else { continue }
            total.count += found.count
            total.stats.merge(found.stats)
        }
        let stats = total.stats.averaged
        let metric: Double? = switch kind {
        case "sum": stats.count > 0 ? stats.sum : nil
        case "avg": stats.avg
        case "min": stats.min
        case "max": stats.max
        default: nil
        }
        return SearchJoinMatch(count: total.count, metric: metric)
    }
}

extension ProjectionReader {
    /// Searches this view (A) joined with view B (`other`, see ``SearchJoin``): A's hits are
    /// those of `request` that B's matches point at, each with its ``SearchJoinMatch``.
    ///
    /// The two views are read in a transaction each, B first. For both to be at or after one
    /// log position, wait for it first, or use ``ProjectionRunner/searchJoined(_:_:joining:atOrAfter:timeout:)``.
    ///
    /// - Throws: ``KirokuError/Code/invalidQuery`` (either query, a join field that is not a
    ///   keyword field, a bad metric), ``KirokuError/Code/querySyntax``.
    public func search(_ request: SearchRequest, joining join: SearchJoin, with other: ProjectionReader) throws -> SearchResults {
        let side = try other.withStore { try JoinSide.compute(join, in: $0) }
        let started = ContinuousClock.now
        defer { recordSearchLatency(since: started) }
        return try withStore { try SearchExecution.run(request, in: $0, join: (join, side)) }
    }
}

extension ProjectionRunner {
    /// Searches view `name` joined with `join.view` (see ``SearchJoin``), both run by this
    /// runner, once both have applied `position` (read-your-writes for both views).
    ///
    /// - Throws: what ``waitUntil(_:version:hasApplied:timeout:)`` and the search throw.
    public func searchJoined(_ name: String, _ request: SearchRequest, joining join: SearchJoin,
                             atOrAfter position: UInt64? = nil, timeout: Duration = .seconds(5)) async throws -> SearchResults {
        if let position {
            try await waitUntil(name, hasApplied: position, timeout: timeout)
            try await waitUntil(join.view, hasApplied: position, timeout: timeout)
        }
        return try reader(name).search(request, joining: join, with: try reader(join.view))
    }
}
