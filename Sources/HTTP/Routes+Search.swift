import Foundation
import Hummingbird
import KirokuLog
import KirokuProjections
import KirokuSearch

extension KirokuRoutes {
    /// `GET /api/views`: the search views with their fields (the console's search box);
    /// `GET /api/search/:view?q=…&limit=&after=&sort=&facet=…&agg=…&position=`.
    ///
    /// With the service's runner, a search reads the runner's view and, given `position` (an
    /// append's position), first waits until the view has applied it: read-your-writes. Without
    /// one (`kiroku serve` beside the service), it answers as of what the view has applied.
    func addSearchRoutes(to api: RouterGroup<Context>) {
        let log = log, options = options
        let catalog = ProjectionCatalog(store: log.path)
        api.get("views") { _, _ -> Response in
            let views = try catalog.searchViews().filter { view in catalog.activeVersion(of: view.name).map { $0 == view.version } ?? true }
            return try JSONBody.response(views.map { view in
                ViewRow(name: view.name, version: view.version,
                        fields: view.mapping.fields.map { FieldRow(name: $0.name, type: $0.type.rawValue) })
            })
        }
        api.get("search/:view") { request, context -> Response in
            let name = try context.parameters.path("view")
            let query = QueryParameters(request: request)
            guard let text = query.string("q") else {
                throw KirokuError(.invalidRequest, "Give the query as ?q=… (docs/SEARCH.md has the language), e.g. /api/search/\(name)?q=見積.")
            }
            let search = SearchRequest(text, limit: try query.number("limit", Int.self, in: 1...10_000) ?? 10,
                                       after: query.string("after"), sort: query.string("sort").map(SearchRequest.Sort.init(parsing:)),
                                       facets: query.all("facet"), facetSize: try query.number("facetSize", Int.self, in: 1...1000) ?? 10,
                                       snippets: !(try query.flag("noSnippets")),
                                       aggregations: try AggregationParser.named(query.all("agg")))
            let position = try query.number("position", UInt64.self)
            let join = try query.string("join").map {
                try SearchJoin(parsing: $0, query: query.string("joinQ") ?? "*", minCount: try query.number("joinMin", Int.self, in: 0...Int.max) ?? 1,
                               metric: query.string("joinMetric"), order: query.string("joinOrder"))
            }
            if let runner = options.runner, runner.projectionNames.contains(name), join.map({ runner.projectionNames.contains($0.view) }) ?? true {
                if let join { return try JSONBody.response(try await runner.searchJoined(name, search, joining: join, atOrAfter: position, timeout: options.searchWait)) }
                if let position { try await runner.waitUntil(name, hasApplied: position, timeout: options.searchWait) }
                return try JSONBody.response(try runner.reader(name).search(search))
            }
            // Without the service's runner: as of what the views have applied.
            let views: [(String, SearchView)] = try ([name] + (join.map { [$0.view] } ?? [])).map { viewName in
                guard let view = try catalog.searchView(viewName) else {
                    throw KirokuError(.projectionNotFound, "No search view named '\(viewName)'; GET /api/views lists them.")
                }
                return (viewName, view)
            }
            let results: SearchResults = try await ViewFiles.reading {
                for (viewName, _) in views {
                    if let position, let applied = try catalog.activeCheckpoint(of: viewName)?.position, applied < position {
                        throw KirokuError(.projectionNotReady, "View '\(viewName)' has applied up to \(applied), not yet \(position); the process that runs it is behind (or not running). Try again.", position: position)
                    }
                }
                return try catalog.withReader(name, tables: views[0].1.tables) { reader in
                    guard let join else { return try reader.search(search) }
                    return try catalog.withReader(join.view, tables: views[1].1.tables) { try reader.search(search, joining: join, with: $0) }
                }
            }
            return try JSONBody.response(results)
        }
    }

    struct FieldRow: Encodable {
        var name: String
        var type: String
    }

    struct ViewRow: Encodable {
        var name: String
        var version: Int
        var fields: [FieldRow]
    }
}

/// Opening a view's files in this process: one at a time (LMDB allows one open environment per
/// file per process), retried for a second when a rebuild here holds the file.
enum ViewFiles {
    private static let lock = NSLock()

    static func reading<T: Sendable>(_ body: @Sendable () throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try lock.withLock { try body() }
            } catch let error as KirokuError where error.code == .alreadyOpen && attempt < 50 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// The synchronous form, for the monitor's checkpoint reads.
    static func readingNow<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock { try body() }
    }
}
