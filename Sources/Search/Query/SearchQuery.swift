import KirokuProjections
/// A search query: what ``QueryParser`` makes of the query language, or built in Swift.
///
/// ```swift
/// let query: SearchQuery = .match("東京") && .field("owner", "alice")
///     && .range("date", lower: .inclusive("2024-01-01"), upper: nil) && !.phrase("canceled order")
/// ```
public indirect enum SearchQuery: Sendable, Hashable {
    /// Every document.
    case all
    /// Terms in `field` (or in every text field): one word matches that word; text that
    /// analyzes to several terms (CJK, `e-mail`) matches as a phrase. On a keyword field the
    /// value matches exactly; on a number or date field, equality.
    case match(field: String?, text: String)
    /// Exact adjacency; a CJK phrase matches exactly the documents whose normalized text
    /// contains it as a substring.
    case phrase(field: String?, text: String)
    /// Words (or keyword values) starting with `prefix`.
    case prefix(field: String?, prefix: String)
    /// Values of a number or date field between bounds (`nil`: open).
    case range(field: String, lower: Bound?, upper: Bound?)
    /// Every query matches.
    case and([SearchQuery])
    /// At least one query matches.
    case or([SearchQuery])
    /// The query does not match.
    case not(SearchQuery)

    /// One end of a range: a number, or a date as ISO 8601 or epoch seconds.
    public struct Bound: Sendable, Hashable {
        /// The value as written.
        public var value: String
        /// Whether the bound itself is in the range.
        public var inclusive: Bool
        /// Makes a bound.
        public init(_ value: String, inclusive: Bool) {
            self.value = value
            self.inclusive = inclusive
        }
        /// A bound that is in the range.
        public static func inclusive(_ value: String) -> Bound { Bound(value, inclusive: true) }
        /// A bound that is not in the range.
        public static func exclusive(_ value: String) -> Bound { Bound(value, inclusive: false) }
    }

    /// Terms in every text field.
    public static func match(_ text: String) -> SearchQuery { .match(field: nil, text: text) }
    /// A value in one field.
    public static func field(_ field: String, _ value: String) -> SearchQuery { .match(field: field, text: value) }
    /// A phrase in every text field.
    public static func phrase(_ text: String) -> SearchQuery { .phrase(field: nil, text: text) }
    /// A range on a number or date field.
    public static func range(_ field: String, lower: Bound?, upper: Bound?) -> SearchQuery {
        .range(field: field, lower: lower, upper: upper)
    }

    /// Both queries.
    public static func && (lhs: SearchQuery, rhs: SearchQuery) -> SearchQuery {
        if case .and(let items) = lhs { return .and(items + [rhs]) }
        return .and([lhs, rhs])
    }

    /// Either query.
    public static func || (lhs: SearchQuery, rhs: SearchQuery) -> SearchQuery {
        if case .or(let items) = lhs { return .or(items + [rhs]) }
        return .or([lhs, rhs])
    }

    /// Not the query.
    public static prefix func ! (query: SearchQuery) -> SearchQuery { .not(query) }
}
