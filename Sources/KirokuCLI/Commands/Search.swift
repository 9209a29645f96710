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
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        guard let projection = try Registry.shared.projection(view, store: log.path) as? SearchView else {
            throw CommandExit.input("'\(view)' is not a search view; list them with `kiroku view list \(store)`.")
        }
        let request = SearchRequest(query, limit: limit, after: after, sort: sort.map(SearchRequest.Sort.init(parsing:)), facets: facet,
                                    aggregations: try AggregationParser.named(aggregations))
        let results: SearchResults
        if staleOK {
            results = try ProjectionCatalog(store: log.path).withReader(view, tables: projection.tables) { try $0.search(request) }
        } else {
            let runner = ProjectionRunner(log: log, projections: [projection], batchSize: 5000)
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            try await runner.waitUntil(view, hasApplied: try log.headPosition(), timeout: .seconds(3600))
            results = try runner.reader(view).search(request)
            running.cancel()
            _ = try? await running.value
        }
        if output.json {
            try Output.encoded(results)
            return
        }
        print("\(results.total) hits")
        Output.table(["ID", "SCORE", "MATCH"], results.hits.map { hit in
            let text = hit.snippet ?? hit.fields.values.compactMap { if case .text(let t) = $0 { return t } else { return nil } }.first ?? ""
            return [hit.id, String(format: "%.3f", hit.score), String(text.replacingOccurrences(of: "\n", with: " ").prefix(120))]
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
