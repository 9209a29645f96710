import KirokuFeed
import Foundation
import KirokuTestSupport
import KirokuLog
import KirokuProjections
import KirokuSearch

/// The activity mapping of docs/SEARCH.md.
let activityMapping = """
{
  "types": ["ActivityLogged", "ActivityEdited"],
  "id": "key",
  "fields": {
    "text":   {"path": "$.text",   "type": "text"},
    "title":  {"path": "$.title",  "type": "text"},
    "owner":  {"path": "$.owner",  "type": "keyword"},
    "status": {"path": "$.status", "type": "keyword"},
    "amount": {"path": "$.amount", "type": "number"},
    "date":   {"path": "$.date",   "type": "date"},
    "kind":   {"path": "@type",    "type": "keyword"}
  },
  "deleteOn": ["ActivityDeleted"]
}
"""

/// A JSON event.
func jsonEvent(_ type: String, _ fields: [String: Any]) -> EventData {
    EventData(type: type, payload: try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
}

/// A log with a running search view named `activities`.
struct SearchFixture {
    let log: EventLog
    let runner: ProjectionRunner

    /// Searches as of the log's head (read-your-writes).
    func search(_ request: SearchRequest) async throws -> SearchResults {
        // Differential loops call this back to back with CPU-bound oracles in between; the
        // yield lets other tests' tasks (projection runners waiting to commit their next batch)
        // run, since two such loops would otherwise hold both of this machine's cooperative threads.
        await Task.yield()
        try await runner.waitUntil("activities", hasApplied: try log.headPosition(), timeout: .seconds(30))
        return try runner.reader("activities").search(request)
    }

    func ids(_ query: String, limit: Int = 1000) async throws -> Set<String> {
        Set(try await search(SearchRequest(query, limit: limit)).hits.map(\.id))
    }
}

func withSearchView(mapping: String = activityMapping, batchSize: Int = 1000,
                    _ body: (SearchFixture) async throws -> Void) async throws {
    try await withLog(label: "kiroku-search") { log, _ in
        let view = SearchView(name: "activities", mapping: try SearchMapping(json: Data(mapping.utf8)))
        let runner = ProjectionRunner(log: log, projections: [view], batchSize: batchSize)
        let running = Task { try await runner.run() }
        defer { running.cancel() }
        try await body(SearchFixture(log: log, runner: runner))
        running.cancel()
        _ = try? await running.value
    }
}
