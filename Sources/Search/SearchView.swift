import KirokuFeed
import Foundation
import KirokuLog
import KirokuProjections
import Metrics

/// An inverted-index search view over the log: a ``Projection`` like any other (exactly-once,
/// blue/green rebuilds, read-your-writes), whose state is a full-text and filter index.
///
/// ```swift
/// let view = SearchView(name: "activities", mapping: try SearchMapping(contentsOf: mappingURL))
/// let runner = ProjectionRunner(log: log, projections: [view])
/// // … run it in a ServiceGroup, then:
/// try await runner.waitUntil("activities", hasApplied: appended.position)
/// let results = try runner.reader("activities").search(
///     SearchRequest("東京 owner:alice date:>=2024-01-01", sort: .init("date", descending: true), facets: ["status"]))
/// ```
///
/// See `docs/SEARCH.md` for the mapping, the analysis, the query language and the layout.
public struct SearchView: Projection {
    /// The view's name.
    public let name: String
    /// The view's version: bump it when the mapping changes meaning.
    public let version: Int
    /// How records become documents.
    public let mapping: SearchMapping
    /// The records read: the mapping's types (and delete types), or every record.
    public var selection: Selection { mapping.types.map { Selection.all.types($0) } ?? .all }
    /// The index's tables.
    public var tables: [String] { SearchTables.all }

    /// A search view named `name` (see ``Projection/name``) built with `mapping`.
    public init(name: String, version: Int = 1, mapping: SearchMapping) {
        self.name = name
        self.version = version
        self.mapping = mapping
    }

    /// Indexes a batch: documents are created, merged, or deleted, and their old postings removed.
    public func apply(_ records: [Record], to state: ProjectionState) throws {
        try IndexWriter(txn: state.transaction, mapping: mapping).apply(records)
    }

    /// Maps the records to documents and analyzes their text, ahead of the transaction.
    public func prepare(_ records: [Record]) throws -> (any Sendable)? {
        try IndexWriter.prepare(records, mapping: mapping)
    }

    /// Indexes a batch prepared by ``prepare(_:)``.
    public func apply(_ records: [Record], prepared: (any Sendable)?, to state: ProjectionState) throws {
        try IndexWriter(txn: state.transaction, mapping: mapping).apply(records, prepared: prepared as? IndexWriter.Prepared)
    }
}

extension ProjectionReader {
    /// Searches a search view (see ``SearchView``) as of what it has applied. Its latency goes
    /// to swift-metrics as `kiroku_search_duration_seconds` (dimension `view`).
    ///
    /// - Throws: ``KirokuError/Code/querySyntax`` (with the column) or
    ///   ``KirokuError/Code/invalidQuery`` for a bad query, sort, facet or cursor.
    public func search(_ request: SearchRequest) throws -> SearchResults {
        let started = ContinuousClock.now
        defer { recordSearchLatency(since: started) }
        return try withStore { try SearchExecution.run(request, in: $0) }
    }

    /// A search's latency, to swift-metrics.
    func recordSearchLatency(since started: ContinuousClock.Instant) {
        Metrics.Timer(label: "kiroku_search_duration_seconds", dimensions: [("view", name)]).record(duration: ContinuousClock.now - started)
    }

    /// The search index's own account of its soundness: its live documents and the postings
    /// that removals did not find where they should be (0 in a sound index; more means the
    /// analyzer's output changed since documents were indexed, or damage: rebuild the view).
    public func searchIndexHealth() throws -> (documents: UInt64, missingPostings: UInt64) {
        try withStore { store in
            try store.read { txn in
                let stats = try IndexStats(txn)
                return (stats.documents, stats.missingPostings)
            }
        }
    }
}
