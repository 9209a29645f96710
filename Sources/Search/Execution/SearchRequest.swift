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
    /// Aggregations over all hits, by name (see ``Aggregation``).
    public var aggregations: [String: Aggregation]

    /// A request for query language text.
    public init(_ text: String, limit: Int = 10, after: String? = nil, sort: Sort? = nil,
                facets: [String] = [], facetSize: Int = 10, snippets: Bool = true, aggregations: [String: Aggregation] = [:]) {
        self.init(query: .text(text), limit: limit, after: after, sort: sort, facets: facets, facetSize: facetSize, snippets: snippets,
                  aggregations: aggregations)
    }

    /// A request for a built query.
    public init(query: Query, limit: Int = 10, after: String? = nil, sort: Sort? = nil,
                facets: [String] = [], facetSize: Int = 10, snippets: Bool = true, aggregations: [String: Aggregation] = [:]) {
        self.aggregations = aggregations
        self.query = query
        self.limit = limit
        self.after = after
        self.sort = sort
        self.facets = facets
        self.facetSize = facetSize
        self.snippets = snippets
    }
}
