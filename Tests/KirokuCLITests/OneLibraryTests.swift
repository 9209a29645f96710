import Foundation
import Kiroku
import KirokuTestSupport
import Testing

/// The CLI and a service see one store: views, versions and the active pointer belong to the
/// library's catalog, not to either side.
@Suite(.timeLimit(.minutes(3))) struct OneLibraryTests {
    static let mapping = #"{"types": ["Noted"], "id": "key", "fields": {"text": {"path": "$.text", "type": "text"}, "owner": {"path": "$.owner", "type": "keyword"}}}"#

    func appendNotes(_ store: String) async throws {
        let log = try EventLog(path: store)
        defer { log.close() }
        for i in 0..<30 {
            try await log.append(to: "note-\(i)", .json(["text": i % 3 == 0 ? "見積 quote" : "other words", "owner": "o\(i % 2)"], type: "Noted"))
        }
    }

    @Test func aViewTheCLIDefinedOpensAndSearchesThroughTheLibrary() async throws {
        let directory = TemporaryDirectory("kiroku-one-library")
        defer { directory.remove() }
        let store = directory.sub("store")
        try await appendNotes(store)
        let mappingFile = directory.sub("mapping.json")
        try Self.mapping.write(toFile: mappingFile, atomically: true, encoding: .utf8)
        let created = try await kiroku(["view", "create", store, "notes", "--mapping", mappingFile])
        #expect(created.status == 0, "\(created.err)")

        let log = try EventLog(path: store)
        defer { log.close() }
        let catalog = ProjectionCatalog(store: store)
        #expect(catalog.viewNames() == ["notes"])
        let view = try #require(try catalog.searchView("notes"))
        #expect(view.version == 1 && catalog.activeVersion(of: "notes") == 1)
        let runner = ProjectionRunner(log: log, projections: try catalog.searchViews())
        let running = Task { try await runner.run() }
        defer { running.cancel() }
        try await runner.waitUntil("notes", hasApplied: try log.headPosition(), timeout: .seconds(30))
        let results = try runner.reader("notes").search(SearchRequest("見積 owner:o0", limit: 100))
        #expect(results.total == 5)
        // Nothing was rebuilt: the library read the version the CLI built.
        #expect(try runner.status().map(\.version) == [1])
        running.cancel()
        _ = try? await running.value
    }

    @Test func aViewAServiceDefinedIsListedAndSearchedByTheCLI() async throws {
        let directory = TemporaryDirectory("kiroku-one-library")
        defer { directory.remove() }
        let store = directory.sub("store")
        try await appendNotes(store)
        do {
            let log = try EventLog(path: store)
            defer { log.close() }
            let catalog = ProjectionCatalog(store: store)
            let version = try catalog.defineSearchView("service-notes", mapping: Data(Self.mapping.utf8))
            #expect(version == 1)
            #expect(throws: KirokuError.self) { try catalog.defineSearchView("../escape", mapping: Data(Self.mapping.utf8)) }
            let runner = ProjectionRunner(log: log, projections: try catalog.searchViews())
            let running = Task { try await runner.run() }
            try await runner.waitUntil("service-notes", hasApplied: try log.headPosition(), timeout: .seconds(30))
            running.cancel()
            _ = try? await running.value
        }
        let listed = try await kiroku(["view", "list", store, "--json"])
        #expect(listed.status == 0 && listed.out.contains("\"service-notes\"") && listed.out.contains("\"active\":1"), "\(listed.out)\(listed.err)")
        let found = try await kiroku(["search", store, "service-notes", "見積", "--json"])
        #expect(found.status == 0 && found.out.contains("\"total\":10"), "\(found.out)\(found.err)")
        let status = try await kiroku(["projections", store, "status", "--json"])
        #expect(status.out.contains("service-notes"), "\(status.out)")
    }

    @Test func theBenchViewIsOneKirokuSearchAnswersFrom() async throws {
        let directory = TemporaryDirectory("kiroku-one-library")
        defer { directory.remove() }
        let store = directory.sub("store")
        let bench = try await kiroku(["bench", "search", store, "--documents", "2000", "--duration", "0.2"])
        #expect(bench.status == 0, "\(bench.err)")
        let found = try await kiroku(["search", store, "bench-activities", "見積", "--json"])
        #expect(found.status == 0 && !found.out.contains("\"total\":0"), "\(found.out)\(found.err)")
    }
}
