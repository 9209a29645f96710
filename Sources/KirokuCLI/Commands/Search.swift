import ArgumentParser
import Foundation
import KirokuLog
import KirokuProjections
import KirokuSearch

/// `kiroku search`: query a search view.
struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search a view (query language: docs/SEARCH.md).",
        discussion: "The view first applies what it has not applied yet, so it answers as of the head at the moment of the call, unless --stale-ok is given. A syntax error exits 1 and names the column.")

    @Argument(help: "The store directory.") var store: String
    @Argument(help: "The search view.") var view: String
    @Argument(help: "The query, e.g. '見積 owner:alice date:[2024-01-01 TO *]'.") var query: String
    @Option(help: "Hits per page (1 to 10000).") var limit = 10
    @Option(help: "The next cursor of the previous page.") var after: String?
    @Option(help: "FIELD or FIELD:desc (default: BM25 score).") var sort: String?
    @Option(help: "A keyword field to count values of (repeatable).") var facet: [String] = []
    @Option(name: .customLong("agg"), help: "An aggregation over all hits, e.g. 'by_month=date_histogram(date, month, Asia/Tokyo) > sum(amount)' (repeatable; docs/SEARCH.md#aggregations).")
    var aggregations: [String] = []
    @Flag(name: .customLong("stale-ok"), help: "Answer from what the view has applied, without catching up.") var staleOK = false
    @Option(name: .customLong("join"), help: "Join another view: VIEW:FIELD[:LOCAL] keeps the hits whose id (or LOCAL keyword field) VIEW's FIELD holds in its --join-query matches (docs/SEARCH.md#joins).")
    var join: String?
    @Option(name: .customLong("join-query"), help: "The joined view's query (default: every document).") var joinQuery = "*"
    @Option(name: .customLong("join-min"), help: "Keep hits with at least this many matches in the joined view.") var joinMin = 1
    @Option(name: .customLong("join-metric"), help: "sum(F), avg(F), min(F) or max(F) of the joined view's matches, per hit.") var joinMetric: String?
    @Option(name: .customLong("join-order"), help: "Order hits by the join: count or metric, :asc for smallest first.") var joinOrder: String?
    @OptionGroup var output: OutputOptions

    /// The `--join` options as a join.
    func parsedJoin() throws -> SearchJoin? {
        guard let join else {
            if joinMetric != nil || joinOrder != nil || joinQuery != "*" || joinMin != 1 { throw CommandExit.input("--join-query, --join-min, --join-metric and --join-order go with --join VIEW:FIELD.") }
            return nil
        }
        return try SearchJoin(parsing: join, query: joinQuery, minCount: joinMin, metric: joinMetric, order: joinOrder)
    }

    func run() async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        guard let projection = try Registry.shared.projection(view, store: log.path) as? SearchView else {
            throw CommandExit.input("'\(view)' is not a search view; list them with `kiroku view list \(store)`.")
        }
        let request = SearchRequest(query, limit: limit, after: after, sort: sort.map(SearchRequest.Sort.init(parsing:)), facets: facet,
                                    aggregations: try AggregationParser.named(aggregations))
        let results: SearchResults
        let join = try parsedJoin()
        var other: SearchView?
        if let join {
            guard let joined = try Registry.shared.projection(join.view, store: log.path) as? SearchView else {
                throw CommandExit.input("'\(join.view)' (--join) is not a search view; list them with `kiroku view list \(store)`.")
            }
            other = joined
        }
        if staleOK {
            let catalog = ProjectionCatalog(store: log.path)
            results = try catalog.withReader(view, tables: projection.tables) { reader in
                guard let join, let other else { return try reader.search(request) }
                return try catalog.withReader(join.view, tables: other.tables) { try reader.search(request, joining: join, with: $0) }
            }
        } else {
            // Both views catch up with the head as of now: read-your-writes for both.
            let runner = ProjectionRunner(log: log, projections: [projection] + (other.map { [$0] } ?? []), batchSize: 5000)
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            let head = try log.headPosition()
            if let join {
                results = try await runner.searchJoined(view, request, joining: join, atOrAfter: head, timeout: .seconds(3600))
            } else {
                try await runner.waitUntil(view, hasApplied: head, timeout: .seconds(3600))
                results = try runner.reader(view).search(request)
            }
            running.cancel()
            _ = try? await running.value
        }
        if output.json {
            try Output.encoded(results)
            return
        }
        print("\(results.total) hits")
        let joined = results.hits.contains { $0.join != nil }
        Output.table(["ID", "SCORE"] + (joined ? ["JOINED", "METRIC"] : []) + ["MATCH"], results.hits.map { hit in
            let text = hit.snippet ?? hit.fields.values.compactMap { if case .text(let t) = $0 { return t } else { return nil } }.first ?? ""
            let join = joined ? ["\(hit.join?.count ?? 0)", hit.join?.metric.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int64($0)) : String(format: "%.2f", $0) } ?? "-"] : []
            return [hit.id, String(format: "%.3f", hit.score)] + join + [String(text.replacingOccurrences(of: "\n", with: " ").prefix(120))]
        })
        for (field, counts) in results.facets.sorted(by: { $0.key < $1.key }) {
            print("\n\(field): " + counts.map { "\($0.value) (\($0.count))" }.joined(separator: ", "))
        }
        for (name, result) in results.aggregations.sorted(by: { $0.key < $1.key }) {
            print("")
            for line in AggregationParser.lines(name, result) { print(line) }
        }
        if let next = results.next { print("\nnext page: --after \(next)") }
    }
}
