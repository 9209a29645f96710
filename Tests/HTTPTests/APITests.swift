import Foundation
import KirokuFeed
import KirokuHTTP
import KirokuLog
import KirokuProjections
import KirokuSearch
import KirokuTestSupport
import Testing

/// The JSON API against a real server: records paged like the log (an oracle), errors with
/// meaningful statuses, writes behind the token, dead letters, projections, search.
@Suite(.timeLimit(.minutes(3))) struct APITests {
    static let token = "test-token-0123456789"
    static let mapping = Data(#"{"types": ["Note"], "id": "key", "fields": {"text": {"path": "$.text", "type": "text"}, "owner": {"path": "$.owner", "type": "keyword"}}}"#.utf8)

    /// Pages of records by key, by prefix and of the whole log, both directions, put together,
    /// equal what the log returns, with keys that are equal as Swift Strings but not as bytes
    /// (é composed and decomposed), page sizes that split versions, and a prefix that is a key.
    @Test func recordPagesAddUpToTheLogWithKeysEqualAsStringsButNotAsBytes() async throws {
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(composed == decomposed)
        try await withLog(label: "kiroku-api-records") { log, _ async throws in
            var random = SeededGenerator(seed: SeededGenerator.seed(label: "api-records"))
            let keys = [composed, decomposed, "caf", composed + "s", "other", "東京"]
            for i in 0..<120 {
                let key = keys[Int(random.next() % UInt64(keys.count))]
                try await log.append(to: key, event("Note", #"{"text": "note \#(i)", "owner": "o\#(i % 3)"}"#))
            }
            let all = try log.readAll(from: 1, limit: 1000)
            try await withServer(log) { client in
                func pages(_ path: String, cursor: String, limit: Int) async throws -> [Int] {
                    var positions: [Int] = []
                    var next: Any?
                    repeat {
                        let separator = path.contains("?") ? "&" : "?"
                        let answer = try await client.get(path + separator + "limit=\(limit)" + (next.map { "&\(cursor)=\($0)" } ?? ""))
                        #expect(answer.status == 200, "\(answer)")
                        let records = answer.object["records"] as? [[String: Any]] ?? []
                        #expect(records.count <= limit)
                        positions += records.compactMap { $0["position"] as? Int }
                        next = answer.object["next"]
                        if positions.count > 1000 { break }
                    } while next != nil
                    return positions
                }
                for limit in [1, 7, 1000] {
                    for key in [composed, decomposed, "caf"] {
                        let expected = all.filter { Array($0.key.utf8) == Array(key.utf8) }.map { Int($0.position) }
                        #expect(try await pages("/api/records?key=\(encoded(key))", cursor: "version", limit: limit) == expected, "key \(Array(key.utf8)) limit \(limit)")
                        #expect(try await pages("/api/records?key=\(encoded(key))&reverse=true", cursor: "version", limit: limit) == expected.reversed(), "key \(Array(key.utf8)) reverse")
                        let prefixed = all.filter { $0.key.utf8.starts(with: key.utf8) }.map { Int($0.position) }
                        #expect(try await pages("/api/records?prefix=\(encoded(key))", cursor: "from", limit: limit) == prefixed, "prefix \(Array(key.utf8)) limit \(limit)")
                        #expect(try await pages("/api/records?prefix=\(encoded(key))&reverse=true", cursor: "before", limit: limit) == prefixed.reversed(), "prefix \(Array(key.utf8)) reverse")
                    }
                    #expect(try await pages("/api/records", cursor: "from", limit: limit) == all.map { Int($0.position) })
                    #expect(try await pages("/api/records?reverse=true", cursor: "before", limit: limit) == all.reversed().map { Int($0.position) })
                }
                // One record, as the CLI shows it.
                let one = try await client.get("/api/records/5")
                #expect(one.object["key"] as? String == all[4].key && one.object["position"] as? Int == 5, "\(one)")
                #expect((one.object["data"] as? [String: Any])?["text"] as? String != nil, "\(one)")
                // Keys by prefix, in byte order: the composed and decomposed keys are two keys.
                let listed = try await client.get("/api/keys?prefix=caf")
                let names = (listed.object["keys"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
                let expectedKeys = try log.keys(prefix: "caf", limit: 100)
                #expect(names.map { Array($0.utf8) } == expectedKeys.map { Array($0.utf8) }, "\(listed)")
                #expect(names.count == Set(all.map { Array($0.key.utf8) }).filter { $0.starts(with: Array("caf".utf8)) }.count)
            }
        }
    }

    /// Bad input answers with the `KirokuError` code and a status that means something; writes
    /// without the token are refused and change nothing; a read-only server refuses them all.
    @Test func errorsCarryKirokuCodesAndStatuses() async throws {
        try await withLog(label: "kiroku-api-errors") { log, _ async throws in
            for i in 0..<5 { try await log.append(to: "n\(i)", event("Note", #"{"text": "見積 \#(i)", "owner": "alice"}"#)) }
            let catalog = ProjectionCatalog(store: log.path)
            let version = try catalog.defineSearchView("notes", mapping: Self.mapping)
            try await ProjectionRunner.runUntilActive(log: log, projections: [try #require(try catalog.searchView("notes"))], name: "notes", version: version)
            try await withServer(log, options: .init(access: .token(Self.token))) { client in
                let cases: [(method: String, path: String, token: String?, status: Int, code: String)] = [
                    ("GET", "/api/records?limit=0", nil, 400, "invalid-request"),
                    ("GET", "/api/records?limit=x", nil, 400, "invalid-request"),
                    ("GET", "/api/records?key=a&prefix=b", nil, 400, "invalid-request"),
                    ("GET", "/api/records?reverse=maybe", nil, 400, "invalid-request"),
                    ("GET", "/api/records/abc", nil, 400, "invalid-request"),
                    ("GET", "/api/records/999", nil, 404, "not-found"),
                    ("GET", "/api/search/nope?q=x", nil, 404, "projection-not-found"),
                    ("GET", "/api/search/notes", nil, 400, "invalid-request"),
                    ("GET", "/api/search/notes?q=\(encoded("owner:("))", nil, 400, "query-syntax"),
                    ("GET", "/api/search/notes?q=x&after=garbage", nil, 400, "invalid-query"),
                    ("GET", "/api/search/notes?q=x&limit=0", nil, 400, "invalid-request"),
                    ("GET", "/api/search/notes?q=x&position=999", nil, 503, "projection-not-ready"),
                    ("GET", "/api/deadletters?consumer=\(String(repeating: "x", count: 201))", nil, 400, "invalid-consumer-name"),
                    ("POST", "/api/deadletters/audit/5/retry", nil, 401, "unauthorized"),
                    ("POST", "/api/deadletters/audit/5/retry", "wrong-token-000", 401, "unauthorized"),
                    ("POST", "/api/deadletters/audit/5/retry", Self.token, 404, "dead-letter-not-found"),
                    ("POST", "/api/deadletters/audit/x/skip", Self.token, 400, "invalid-request"),
                    ("POST", "/api/projections/nope/rebuild", Self.token, 404, "projection-not-found"),
                    ("POST", "/api/projections/notes/rebuild", nil, 401, "unauthorized"),
                    ("POST", "/api/projections/notes/switch", Self.token, 400, "invalid-request"),
                    ("POST", "/api/projections/notes/switch?version=9", Self.token, 404, "projection-not-found"),
                    ("POST", "/api/projections/notes/prune?version=1", Self.token, 400, "invalid-projection"),
                ]
                for c in cases {
                    let answer = try await client.request(c.method, c.path, token: c.token)
                    #expect(answer.status == c.status && answer.code == c.code, "\(c.method) \(c.path): \(answer)")
                    #expect((answer.object["error"] as? [String: Any])?["message"] as? String != nil, "\(answer)")
                }
                // Nothing was rebuilt by the refused write.
                #expect(catalog.versions(of: "notes") == [1])
            }
            try await withServer(log) { client in
                let refused = try await client.post("/api/projections/notes/rebuild", token: Self.token)
                #expect(refused.status == 403 && refused.code == "read-only", "\(refused)")
                #expect(try await client.get("/api/pipeline").object["access"] as? String == "read-only")
            }
        }
    }

    /// A handler fails on one key: the dead letter shows in the API and makes `/health` 503
    /// naming its position and key; a retry without the token is refused; with it, the fixed
    /// handler succeeds and the pipeline is healthy. Another is skipped.
    @Test func deadLettersAreRetriedAndSkippedOverHTTP() async throws {
        try await withLog(label: "kiroku-api-deadletters") { log, _ async throws in
            let broken = Locked(true)
            let handled = Locked<[UInt64]>([])
            var configuration = KeyedProcessor.Configuration()
            configuration.maxAttempts = 1
            configuration.checkpointInterval = .milliseconds(50)
            let processor = KeyedProcessor(log: log, consumer: "mailer", configuration: configuration) { record in
                if record.key.hasPrefix("bad"), broken.withLock({ $0 }) { throw Failure() }
                handled.withLock { $0.append(record.position) }
            }
            let running = Task { try await processor.run() }
            defer { running.cancel() }
            try await log.append(to: "good-1", event())
            let bad = try await log.append(to: "bad-1", event())
            let skipped = try await log.append(to: "bad-2", event())
            try await log.append(to: "good-2", event())
            try await withServer(log, options: .init(access: .token(Self.token))) { client in
                #expect(try await eventually { try await client.get("/api/deadletters?consumer=mailer").array.count == 2 })
                let letters = try await client.get("/api/deadletters")
                #expect(letters.array.map { $0["key"] as? String } == ["bad-1", "bad-2"], "\(letters)")
                #expect(letters.array.first?["state"] as? String == "failed" && (letters.array.first?["error"] as? String)?.contains("mail server down") == true)
                let health = try await client.get("/health")
                #expect(health.status == 503, "\(health)")
                let reason = (health.object["reasons"] as? [[String: Any]])?.first { $0["kind"] as? String == "dead-letters" }
                let letter = try #require(reason?["deadLetter"] as? [String: Any], "\(health)")
                #expect(letter["position"] as? Int == Int(bad.position) && letter["key"] as? String == "bad-1", "\(health)")

                let refused = try await client.post("/api/deadletters/mailer/\(bad.position)/retry")
                #expect(refused.status == 401)
                #expect(try await client.get("/api/deadletters?consumer=mailer").array.first?["state"] as? String == "failed")

                broken.withLock { $0 = false }
                let retried = try await client.post("/api/deadletters/mailer/\(bad.position)/retry", token: Self.token)
                #expect(retried.status == 202, "\(retried)")
                let skip = try await client.post("/api/deadletters/mailer/\(skipped.position)/skip", token: Self.token)
                #expect(skip.status == 200, "\(skip)")
                #expect(try await eventually { try await client.get("/api/deadletters").array.isEmpty })
                #expect(try await eventually { try await client.get("/health").status == 200 })
                #expect(handled.withLock { $0 }.contains(bad.position) && !handled.withLock { $0 }.contains(skipped.position))
            }
            running.cancel()
            _ = try? await running.value
        }
    }

    struct Failure: Error, CustomStringConvertible { var description: String { "mail server down" } }

    /// Under `holdKey`, a failed record holds its key: `/health` names the held key, the
    /// letter that holds it and how many records wait behind it; a skip releases them.
    @Test func healthNamesTheKeyADeadLetterHolds() async throws {
        try await withLog(label: "kiroku-api-held") { log, _ async throws in
            var configuration = KeyedProcessor.Configuration()
            configuration.maxAttempts = 1
            configuration.keyPolicy = .holdKey
            configuration.checkpointInterval = .milliseconds(50)
            let handled = Locked<[UInt64]>([])
            let processor = KeyedProcessor(log: log, consumer: "ledger", configuration: configuration) { record in
                if record.key == "acct-1", record.version == 1 { throw Failure() }
                handled.withLock { $0.append(record.position) }
            }
            let running = Task { try await processor.run() }
            defer { running.cancel() }
            let holding = try await log.append(to: "acct-1", event())
            try await log.append(to: "acct-1", event())
            try await log.append(to: "acct-1", event())
            try await log.append(to: "acct-2", event())
            try await withServer(log, options: .init(access: .token(Self.token))) { client in
                #expect(try await eventually { try await client.get("/api/deadletters?consumer=ledger").array.count == 3 })
                let health = try await client.get("/health")
                let reason = try #require((health.object["reasons"] as? [[String: Any]])?.first { $0["kind"] as? String == "dead-letters" }, "\(health)")
                let letter = try #require(reason["deadLetter"] as? [String: Any])
                #expect(letter["key"] as? String == "acct-1" && letter["holdsKey"] as? Bool == true && letter["position"] as? Int == Int(holding.position), "\(health)")
                #expect(reason["failedDeadLetters"] as? Int == 1 && reason["heldDeadLetters"] as? Int == 2, "\(health)")
                #expect((reason["message"] as? String)?.contains("2 later record(s) of held keys wait behind") == true, "\(health)")
                let states = try await client.get("/api/deadletters?consumer=ledger").array.compactMap { $0["state"] as? String }
                #expect(states == ["failed", "held", "held"])
                // Retrying a held letter is refused: the one that holds the key decides.
                let held = try await client.post("/api/deadletters/ledger/\(holding.position + 1)/retry", token: Self.token)
                #expect(held.status == 404 && held.code == "dead-letter-not-found", "\(held)")
                #expect(try await client.post("/api/deadletters/ledger/\(holding.position)/skip", token: Self.token).status == 200)
                #expect(try await eventually { try await client.get("/health").status == 200 })
                // The released records follow, in order.
                #expect(await eventually { handled.withLock { $0 }.contains(holding.position + 2) }, "\(handled.withLock { $0 })")
            }
            running.cancel()
            _ = try? await running.value
        }
    }

    /// Rebuild over HTTP runs blue/green in the server (202, progress in /api/projections), then
    /// switch back to the old version and prune; the search answers throughout.
    @Test func projectionsAreRebuiltSwitchedAndPrunedOverHTTP() async throws {
        try await withLog(label: "kiroku-api-projections") { log, _ async throws in
            for i in 0..<300 { try await log.append(to: "n\(i)", event("Note", #"{"text": "見積 \#(i)", "owner": "o\#(i % 4)"}"#)) }
            let catalog = ProjectionCatalog(store: log.path)
            let first = try catalog.defineSearchView("notes", mapping: Self.mapping)
            try await ProjectionRunner.runUntilActive(log: log, projections: [try #require(try catalog.searchView("notes"))], name: "notes", version: first)
            try await withServer(log, options: .init(access: .token(Self.token))) { client in
                let started = try await client.post("/api/projections/notes/rebuild", token: Self.token)
                #expect(started.status == 202 && started.object["version"] as? Int == 2, "\(started)")
                #expect(try await eventually {
                    let rows = try await client.get("/api/projections").array
                    return rows.contains { $0["version"] as? Int == 2 && $0["state"] as? String == "active" && $0["lag"] as? Int == 0 }
                        && rows.contains { $0["version"] as? Int == 1 && $0["state"] as? String == "retired" }
                })
                #expect(catalog.activeVersion(of: "notes") == 2)
                var search = try await client.get("/api/search/notes?q=\(encoded("見積"))&limit=1")
                #expect(search.object["total"] as? Int == 300, "\(search)")

                let back = try await client.post("/api/projections/notes/switch?version=1", token: Self.token)
                #expect(back.status == 200 && catalog.activeVersion(of: "notes") == 1, "\(back)")
                let pruned = try await client.post("/api/projections/notes/prune?version=2", token: Self.token)
                #expect(pruned.status == 200 && catalog.versions(of: "notes") == [1], "\(pruned)")
                search = try await client.get("/api/search/notes?q=\(encoded("見積"))&limit=1")
                #expect(search.object["total"] as? Int == 300, "\(search)")
                // A join over HTTP: one document per owner, with how many notes each owner has.
                let owners = try catalog.defineSearchView("owners", mapping: Data(#"{"types": ["Note"], "id": "$.owner", "fields": {"owner": {"path": "$.owner", "type": "keyword"}}}"#.utf8))
                try await ProjectionRunner.runUntilActive(log: log, projections: [try #require(try catalog.searchView("owners"))], name: "owners", version: owners)
                let joined = try await client.get("/api/search/owners?q=*&join=notes:owner&joinQ=\(encoded("見積"))&joinOrder=count&joinMetric=count&limit=10")
                #expect(joined.status == 400 && joined.code == "invalid-query", "count is no join metric: \(joined)")
                let ranked = try await client.get("/api/search/owners?q=*&join=notes:owner&joinQ=\(encoded("見積"))&joinOrder=count&limit=10")
                let counts = (ranked.object["hits"] as? [[String: Any]] ?? []).map { (($0["join"] as? [String: Any])?["count"] as? Int) ?? 0 }
                #expect(counts == [75, 75, 75, 75], "\(ranked)")
                let badJoin = try await client.get("/api/search/owners?q=*&join=notes")
                #expect(badJoin.status == 400 && badJoin.code == "invalid-query", "\(badJoin)")
                let views = try await client.get("/api/views")
                #expect(views.array.first?["name"] as? String == "notes" && views.body.contains(#""type":"keyword""#), "\(views)")
            }
        }
    }

    /// While a rebuild runs in the server, a second one, a switch and a prune of that projection
    /// are refused (409 `rebuild-running`); a projection the service's own runner runs is not
    /// rebuilt by the API (409 `already-open`).
    @Test func conflictingProjectionWritesAreRefused() async throws {
        try await withLog(label: "kiroku-api-rebuild-running") { log, _ async throws in
            for i in 0..<20 { try await log.append(to: "n\(i)", event()) }
            let gate = Locked(false)
            let slow = Gated(gate: gate)
            try await withServer(log, options: .init(access: .token(Self.token), projections: [slow])) { client in
                let started = try await client.post("/api/projections/gated/rebuild", token: Self.token)
                #expect(started.status == 202, "\(started)")
                for path in ["/api/projections/gated/rebuild", "/api/projections/gated/switch?version=1", "/api/projections/gated/prune?version=1"] {
                    let refused = try await client.post(path, token: Self.token)
                    #expect(refused.status == 409 && refused.code == "rebuild-running", "\(path): \(refused)")
                }
                #expect(try await client.get("/api/projections").array.first?["rebuilding"] as? Bool == true)
                gate.withLock { $0 = true }
                #expect(try await eventually {
                    try await client.get("/api/projections").array.contains { $0["state"] as? String == "active" && $0["lag"] as? Int == 0 && $0["rebuilding"] as? Bool == false }
                })
            }
            let runner = ProjectionRunner(log: log, projections: [EventCounts()])
            try await withServer(log, options: .init(access: .token(Self.token), runner: runner)) { client in
                let refused = try await client.post("/api/projections/event-counts/rebuild", token: Self.token)
                #expect(refused.status == 409 && refused.code == "already-open", "\(refused)")
            }
        }
    }

    /// Through the service's runner a search waits for the position of its own append
    /// (read-your-writes); facets and cursor pages agree with a brute-force count.
    @Test func searchReadsYourWritesWithFacetsAndCursors() async throws {
        try await withLog(label: "kiroku-api-search") { log, _ async throws in
            for i in 0..<40 { try await log.append(to: "n\(i)", event("Note", #"{"text": "商談 \#(i)", "owner": "o\#(i % 3)"}"#)) }
            let view = SearchView(name: "notes", mapping: try SearchMapping(json: Self.mapping))
            let runner = ProjectionRunner(log: log, projections: [view])
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            try await withServer(log, options: .init(runner: runner)) { client in
                let appended = try await log.append(to: "fresh", event("Note", #"{"text": "見積 依頼", "owner": "zed"}"#))
                let found = try await client.get("/api/search/notes?q=\(encoded("見積"))&position=\(appended.position)")
                #expect(found.status == 200 && (found.object["hits"] as? [[String: Any]])?.first?["id"] as? String == "fresh", "\(found)")

                let facets = try await client.get("/api/search/notes?q=\(encoded("商談"))&facet=owner&limit=1")
                let counts = ((facets.object["facets"] as? [String: Any])?["owner"] as? [[String: Any]] ?? [])
                    .reduce(into: [String: Int]()) { $0[$1["value"] as? String ?? ""] = $1["count"] as? Int }
                #expect(counts == ["o0": 14, "o1": 13, "o2": 13], "\(facets)")
                // Aggregations in their text form, repeatable; a bad one is a 400 that says why.
                let aggregated = try await client.get("/api/search/notes?q=\(encoded("商談"))&limit=1&agg=\(encoded("terms(owner) > count"))&agg=count")
                let aggregations = try #require(aggregated.object["aggregations"] as? [String: Any], "\(aggregated)")
                #expect((aggregations["count"] as? [String: Any])?["value"] as? Int == 40)
                let buckets = ((aggregations["terms_owner"] as? [String: Any])?["buckets"] as? [[String: Any]] ?? []).map { $0["count"] as? Int ?? 0 }
                #expect(buckets == [14, 13, 13], "\(aggregated)")
                let badAggregation = try await client.get("/api/search/notes?q=x&agg=\(encoded("sum(owner)"))")
                #expect(badAggregation.status == 400 && badAggregation.code == "invalid-query", "\(badAggregation)")
                // A form-encoded query, as URLSearchParams sends it: "+" is a space, "%2B" a plus.
                let filtered = try await client.get("/api/search/notes?q=\(encoded("商談"))+owner%3Ao1&limit=1")
                #expect(filtered.object["total"] as? Int == 13, "\(filtered)")
                var ids: [String] = []
                var after: String?
                repeat {
                    let page = try await client.get("/api/search/notes?q=\(encoded("商談"))&limit=7&sort=owner" + (after.map { "&after=\(encoded($0))" } ?? ""))
                    #expect(page.status == 200, "\(page)")
                    ids += (page.object["hits"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                    after = page.object["next"] as? String
                } while after != nil && ids.count <= 40
                #expect(ids.count == 40 && Set(ids).count == 40, "\(ids)")
            }
            running.cancel()
            _ = try? await running.value
        }
    }
}

/// A projection whose apply waits for a gate: a rebuild that runs until the test lets it end.
struct Gated: Projection {
    let gate: Locked<Bool>
    var name: String { "gated" }
    var version: Int { 1 }
    var selection: Selection { .all }
    var tables: [String] { ["state"] }
    func apply(_ records: [Record], to state: ProjectionState) throws {
        while !gate.withLock({ $0 }) { usleep(10_000) }
    }
}
