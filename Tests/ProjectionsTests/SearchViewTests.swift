import KirokuFeed
import Foundation
import KirokuTestSupport
import KirokuLog
import Testing
@testable import KirokuProjections
@testable import KirokuSearch

@Suite(.timeLimit(.minutes(3))) struct SearchViewTests {
    @Test func japaneseTermsPhrasesAndSingleCharacters() async throws {
        try await withSearchView { view in
            try await view.log.append(to: "a1", jsonEvent("ActivityLogged", ["text": "東京特許許可局に電話した"]))
            try await view.log.append(to: "a2", jsonEvent("ActivityLogged", ["text": "京都の顧客を訪問"]))
            try await view.log.append(to: "a3", jsonEvent("ActivityLogged", ["text": "東京タワーの近くでTokyo Tower meeting"]))
            try await view.log.append(to: "a4", jsonEvent("ActivityLogged", ["text": "大阪で会議", "title": "ＡＢＣ商事"]))
            #expect(try await view.ids("東京") == ["a1", "a3"])
            #expect(try await view.ids("京") == ["a1", "a2", "a3"])
            #expect(try await view.ids("\"特許許可\"") == ["a1"])
            #expect(try await view.ids("許可局") == ["a1"])
            #expect(try await view.ids("\"京特\"") == ["a1"])
            #expect(try await view.ids("東京 tower") == ["a3"])
            #expect(try await view.ids("\"tokyo tower\"") == ["a3"])
            #expect(try await view.ids("\"tower tokyo\"") == [])
            #expect(try await view.ids("abc") == ["a4"])
            #expect(try await view.ids("title:abc商事") == ["a4"])
            #expect(try await view.ids("text:abc") == [])
            #expect(try await view.ids("東京 OR 大阪") == ["a1", "a3", "a4"])
            #expect(try await view.ids("京 -東京") == ["a2"])
            #expect(try await view.ids("NOT 京") == ["a4"])
            #expect(try await view.ids("meet*") == ["a3"])
            #expect(try await view.ids("\"東京 特許\"") == [])
            let hit = try #require(try await view.search(SearchRequest("特許")).hits.first)
            #expect(hit.snippet == "東京<em>特許</em>許可局に電話した")
            // A snippet that starts inside the text starts at a whole word.
            let long = "Alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo renewal lima mike"
            try await view.log.append(to: "a5", jsonEvent("ActivityLogged", ["text": long]))
            let snippet = try #require(try await view.search(SearchRequest("renewal")).hits.first?.snippet)
            #expect(snippet.hasPrefix("…"))
            let firstWord = String(snippet.dropFirst().prefix { $0 != " " })
            #expect(long.split(separator: " ").contains { String($0) == firstWord }, "\(snippet)")
            #expect(snippet.contains("<em>renewal</em>"))
            // One character: only that character is highlighted, not the bigram it starts.
            let kyo = try await view.search(SearchRequest("京", limit: 10)).hits.first { $0.id == "a2" }
            #expect(kyo?.snippet == "<em>京</em>都の顧客を訪問")
            #expect(hit.score > 0)
        }
    }

    @Test func updatesAndDeletesLeaveNoOldPostingsAndFacetsCountTheNewValues() async throws {
        try await withSearchView { view in
            try await view.log.append(to: "a1", jsonEvent("ActivityLogged", ["text": "old words here", "owner": "alice", "status": "open"]))
            try await view.log.append(to: "a2", jsonEvent("ActivityLogged", ["text": "other things", "owner": "alice", "status": "open"]))
            #expect(try await view.search(SearchRequest("*", facets: ["owner"])).facets["owner"] == [FacetCount(value: "alice", count: 2)])
            // A partial update: text and owner change, status stays.
            try await view.log.append(to: "a1", jsonEvent("ActivityEdited", ["text": "new text", "owner": "bob"]))
            #expect(try await view.ids("old") == [])
            #expect(try await view.ids("new") == ["a1"])
            #expect(try await view.ids("status:open") == ["a1", "a2"])
            let facets = try await view.search(SearchRequest("*", facets: ["owner", "kind"])).facets
            #expect(facets["owner"] == [FacetCount(value: "alice", count: 1), FacetCount(value: "bob", count: 1)])
            #expect(facets["kind"] == [FacetCount(value: "ActivityEdited", count: 1), FacetCount(value: "ActivityLogged", count: 1)])
            let a1 = try #require(try await view.search(SearchRequest("new")).hits.first)
            #expect(a1.fields["owner"] == .keyword("bob"))
            #expect(a1.fields["status"] == .keyword("open"))
            try await view.log.append(to: "a1", jsonEvent("ActivityDeleted", [:]))
            try await view.log.append(to: "a2", jsonEvent("ActivityDeleted", [:]))
            #expect(try await view.search(SearchRequest("*")).total == 0)
            // Nothing is left behind: no terms, postings, ranges, norms or documents.
            let reader = try view.runner.reader("activities")
            for table in ["search-terms", "search-postings", "search-docs", "search-ids", "search-ranges", "search-norms"] {
                #expect(try reader.entries(in: table).isEmpty, "\(table) is not empty")
            }
        }
    }

    @Test func sortingRangesPaginationAndFacets() async throws {
        try await withSearchView { view in
            for i in 0..<25 {
                try await view.log.append(to: "a\(i)", jsonEvent("ActivityLogged", [
                    "text": i.isMultiple(of: 2) ? "visit customer" : "call customer",
                    "owner": ["alice", "bob", "carol"][i % 3], "amount": i * 10,
                    "date": String(format: "2024-01-%02dT09:00:00Z", i + 1),
                ]))
            }
            #expect(try await view.search(SearchRequest("amount:[50 TO 100]")).total == 6)
            #expect(try await view.search(SearchRequest("amount:{50 TO 100}")).total == 4)
            #expect(try await view.search(SearchRequest("amount:>=200")).total == 5)
            #expect(try await view.search(SearchRequest("date:[2024-01-10 TO 2024-01-12T23:59:59Z]")).total == 3)
            #expect(try await view.search(SearchRequest("date:<2024-01-03")).total == 2)
            // Pages of 4, newest first, with the cursor, cover every visit exactly once in order.
            var seen: [String] = []
            var after: String?
            repeat {
                let page = try await view.search(SearchRequest("visit", limit: 4, after: after, sort: .init("date", descending: true)))
                #expect(page.total == 13)
                seen += page.hits.map(\.id)
                after = page.next
            } while after != nil
            #expect(seen == stride(from: 24, through: 0, by: -2).map { "a\($0)" })
            let ascending = try await view.search(SearchRequest("customer owner:alice", limit: 3, sort: .init("amount"), facets: ["owner", "status"]))
            #expect(ascending.hits.map(\.id) == ["a0", "a3", "a6"])
            #expect(ascending.facets["owner"] == [FacetCount(value: "alice", count: 9)])
            #expect(ascending.facets["status"] == [])
            let json = String(decoding: try JSONEncoder().encode(ascending), as: UTF8.self)
            #expect(json.contains("\"total\":9") && json.contains("\"next\":\"") && json.contains("\"facets\""))
        }
    }

    /// A date bound written to a day (month, year, minute) stands for the whole unit: the
    /// first wave's `[2020-01-01 TO 2020-01-31]` ended at midnight of the 31st and missed it.
    @Test func dateBoundsTakeInOrLeaveOutTheWholeUnitTheyAreWrittenTo() async throws {
        try await withSearchView { view in
            let dates = ["2019-12-31T23:59:59Z", "2020-01-01T00:00:00Z", "2020-01-15T12:00:00Z", "2020-01-31T00:00:00Z",
                         "2020-01-31T10:15:30Z", "2020-01-31T23:59:59.5Z", "2020-02-01T00:00:00Z", "2020-12-31T23:00:00Z", "2021-01-01T00:00:00Z"]
            for (i, date) in dates.enumerated() {
                try await view.log.append(to: "d\(i)", jsonEvent("ActivityLogged", ["text": "dated", "date": date]))
            }
            func ids(_ query: String) async throws -> [String] {
                try await view.search(SearchRequest(query, sort: .init("date"))).hits.map(\.id)
            }
            #expect(try await ids("date:[2020-01-01 TO 2020-01-31]") == ["d1", "d2", "d3", "d4", "d5"])
            #expect(try await ids("date:{2020-01-01 TO 2020-01-31}") == ["d2"])
            #expect(try await ids("date:[2020-01-01 TO 2020-01-31}") == ["d1", "d2"])
            #expect(try await ids("date:2020-01-31") == ["d3", "d4", "d5"])
            #expect(try await ids("date:[2020-01 TO 2020-01]") == ["d1", "d2", "d3", "d4", "d5"])
            #expect(try await ids("date:2020") == ["d1", "d2", "d3", "d4", "d5", "d6", "d7"])
            #expect(try await ids("date:>2020-01") == ["d6", "d7", "d8"])
            #expect(try await ids("date:<=2020-01-31") == ["d0", "d1", "d2", "d3", "d4", "d5"])
            #expect(try await ids("date:<2020-01-31") == ["d0", "d1", "d2"])
            #expect(try await ids("date:>=2020-01-31T10:15") == ["d4", "d5", "d6", "d7", "d8"])
            #expect(try await ids("date:[2020-01-31T10:15 TO 2020-01-31T10:15]") == ["d4"])
            // A full instant (with a fraction, or as epoch seconds) is exact.
            #expect(try await ids("date:[2020-01-31T00:00:00.0Z TO 2020-01-31T10:15:30.0Z]") == ["d3", "d4"])
            #expect(try await ids("date:{1580428800 TO *}") == ["d4", "d5", "d6", "d7", "d8"])
            // The builder takes the same bounds.
            let built = try await view.search(SearchRequest(query: .built(.range("date", lower: .inclusive("2020-01-31"), upper: .inclusive("2020-01-31")))))
            #expect(built.total == 3)
        }
    }

    /// The first wave's case: page 1 of 見積, then thousands of documents indexed, then page
    /// 2 with the cursor: every score had moved and 165 of 356 matches were never returned.
    /// Pages now score with the first page's statistics, and updates keep doc numbers.
    @Test func pagesAreStableWhateverIsIndexedBetweenThem() async throws {
        try await withSearchView { view in
            let words = ["見積", "提案", "定例", "商談", "契約"]
            var random = SeededGenerator(seed: 7)
            for i in 0..<120 {
                let text = (0..<Int.random(in: 1...12, using: &random)).map { _ in words.randomElement(using: &random)! }.joined(separator: " ")
                try await view.log.append(to: "a\(i)", jsonEvent("ActivityLogged", ["text": text + " 見積", "owner": "o\(i % 4)", "amount": i % 7]))
            }
            let expected = Set(try await view.search(SearchRequest("見積", limit: 1000)).hits.map(\.id))
            #expect(expected.count == 120)
            for sort: SearchRequest.Sort? in [nil, .init("amount")] {
                var seen: [String] = []
                var after: String?
                var round = 0
                repeat {
                    let page = try await view.search(SearchRequest("見積", limit: 7, after: after, sort: sort))
                    seen += page.hits.map(\.id)
                    after = page.next
                    // Between pages: unrelated documents (they change the corpus statistics), new
                    // matching ones, and updates of an unrelated field of matching ones.
                    for j in 0..<40 {
                        try await view.log.append(to: "n\(round)-\(j)", jsonEvent("ActivityLogged", ["text": words[j % 4 + 1] + " unrelated filler text", "owner": "x"]))
                    }
                    try await view.log.append(to: "new\(round)", jsonEvent("ActivityLogged", ["text": "見積 見積 見積", "owner": "x"]))
                    // The adversary's choice: documents already returned, and one not yet.
                    for id in [seen.first, seen.last, "a\(round * 5 % 120)"].compactMap({ $0 }) where !id.hasPrefix("new") {
                        try await view.log.append(to: id, jsonEvent("ActivityEdited", ["owner": "changed\(round)"]))
                    }
                    round += 1
                } while after != nil
                let original = seen.filter { !$0.hasPrefix("new") }
                #expect(Set(original) == expected, "sort \(String(describing: sort)): missing \(expected.subtracting(original).sorted().prefix(10))")
                #expect(original.count == Set(original).count, "sort \(String(describing: sort)): repeated \(Dictionary(grouping: original, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted())")
            }
        }
    }

    @Test func badQueriesAreClearErrors() async throws {
        try await withSearchView { view in
            try await view.log.append(to: "a1", jsonEvent("ActivityLogged", ["text": "x", "amount": 1]))
            _ = try await view.search(SearchRequest("x"))
            let reader = try view.runner.reader("activities")
            let syntax = await expectError(.querySyntax) { _ = try reader.search(SearchRequest("(x")) }
            #expect(syntax?.message.contains("column 3") == true)
            await expectError(.querySyntax) { _ = try reader.search(SearchRequest("colour:red")) }
            await expectError(.invalidQuery) { _ = try reader.search(SearchRequest("text:[a TO b]")) }
            await expectError(.invalidQuery) { _ = try reader.search(SearchRequest("amount:lots")) }
            await expectError(.invalidQuery) { _ = try reader.search(SearchRequest("x", sort: .init("text"))) }
            await expectError(.invalidQuery) { _ = try reader.search(SearchRequest("x", facets: ["amount"])) }
            await expectError(.invalidQuery) { _ = try reader.search(SearchRequest("x", after: "garbage")) }
            await expectError(.invalidQuery) { _ = try reader.search(SearchRequest("x", limit: 0)) }
            await expectError(.invalidQuery) { _ = try reader.search(SearchRequest(query: .built(.match(field: "nope", text: "x")))) }
        }
    }

    @Test func aRecordTheMappingCannotReadStopsTheViewAtItsPosition() async throws {
        try await withSearchView { view in
            try await view.log.append(to: "a1", jsonEvent("ActivityLogged", ["text": "fine", "amount": 3]))
            let bad = try await view.log.append(to: "a2", jsonEvent("ActivityLogged", ["text": "bad", "amount": "lots"]))
            let error = await expectError(.projectionFailed) {
                try await view.runner.waitUntil("activities", hasApplied: bad.position, timeout: .seconds(10))
            }
            #expect(error?.message.contains("amount") == true)
            let status = try #require(try view.runner.status().first)
            #expect(status.state == .failed && status.position < bad.position)
            #expect(status.error?.contains("mapping-failed") == true || status.error?.contains("number") == true)
        }
    }

    @Test func aSwiftMappingAndIDsFromThePayloadOrTheEvent() async throws {
        try await withLog(label: "kiroku-search") { log, _ in
            let mapping = try SearchMapping(fields: [.init("title", .text), .init("tags", .keyword)], types: ["Noted"]) { record in
                let note = try JSONSerialization.jsonObject(with: record.payload) as! [String: Any]
                return .upsert(id: note["id"] as! String, fields: ["title": .text(note["title"] as! String), "tags": .keywords(note["tags"] as! [String])])
            }
            let perEvent = try SearchMapping(json: Data(#"{"id": "event", "fields": {"t": {"path": "$.title", "type": "text"}, "tag": {"path": "$.tags[*]", "type": "keyword"}}}"#.utf8))
            let byPath = try SearchMapping(json: Data(#"{"id": "$.id", "fields": {"t": {"path": "$.title", "type": "text"}}}"#.utf8))
            let runner = ProjectionRunner(log: log, projections: [
                SearchView(name: "notes", mapping: mapping), SearchView(name: "events", mapping: perEvent), SearchView(name: "paths", mapping: byPath),
            ])
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            try await log.append(to: "k", jsonEvent("Noted", ["id": "n1", "title": "First note", "tags": ["red", "blue"]]))
            try await log.append(to: "k", EventData(type: "Noted", payload: Data(#"{"id": "n1", "title": "Second note", "tags": ["red"]}"#.utf8), id: "evt-2"))
            let head = try log.headPosition()
            for name in ["notes", "events", "paths"] { try await runner.waitUntil(name, hasApplied: head, timeout: .seconds(60)) }
            let notes = try runner.reader("notes").search(SearchRequest("note", facets: ["tags"]))
            #expect(notes.hits.map(\.id) == ["n1"])
            #expect(notes.hits.first?.fields["title"] == .text("Second note"))
            #expect(notes.facets["tags"] == [FacetCount(value: "red", count: 1)])
            let events = try runner.reader("events").search(SearchRequest("note", sort: .init("tag"), facets: ["tag"]))
            #expect(Set(events.hits.map(\.id)) == ["1", "evt-2"])
            #expect(events.facets["tag"] == [FacetCount(value: "red", count: 2), FacetCount(value: "blue", count: 1)])
            #expect(try runner.reader("paths").search(SearchRequest("second")).hits.map(\.id) == ["n1"])
            #expect(try runner.reader("paths").search(SearchRequest("first")).total == 0)
        }
    }

    /// Found by the mapping fuzzer: a high surrogate escape followed by an escape that is not a
    /// low surrogate trapped on an overflow. It is U+FFFD now, and the next escape stands alone.
    @Test func payloadStringsWithLoneSurrogatesMapToReplacementCharacters() throws {
        let mapping = try SearchMapping(json: Data(#"{"id": "$.id", "fields": {"t": {"path": "$.t", "type": "text"}}}"#.utf8))
        let payload = #"{"id": "a", "t": "x\ud83d\u0041 \ud83d\ude00 \udc00 \ud83d"}"#
        let record = Record(position: 1, key: "k", version: 1, timestamp: Date(), type: "T", payload: Data(payload.utf8))
        guard case .upsert(let id, let fields)? = try mapping.document(record) else {
            Issue.record("no document")
            return
        }
        #expect(id == "a")
        #expect(fields["t"] == .text("x\u{FFFD}A 😀 \u{FFFD} \u{FFFD}"))
    }
}

/// Document numbers never run out, and removals always end.
@Suite(.timeLimit(.minutes(3))) struct SearchIndexLimitTests {
    static let mapping = #"{"id": "key", "fields": {"text": {"path": "$.text", "type": "text"}, "tag": {"path": "$.tag", "type": "keyword"}}, "deleteOn": ["Gone"]}"#

    /// Writes the view's counters before it starts, as if it had handed out `nextDoc - 1` numbers.
    static func prepareView(store: String, nextDoc: UInt32) throws {
        let state = try KeyValueStore(path: store + "/projections/docs/v1", tables: SearchTables.all + ["_kiroku"])
        defer { state.close() }
        try state.write { txn in
            var stats = try IndexStats(txn)
            stats.nextDoc = nextDoc
            try stats.save(txn)
        }
    }

    /// A view started three numbers short of the limit keeps indexing creates, updates and
    /// deletes by reusing freed numbers; every search equals a brute-force scan of the model.
    @Test func aViewNearTheDocumentNumberLimitReusesFreedNumbers() async throws {
        try await withLog(label: "kiroku-search") { log, directory in
            try Self.prepareView(store: log.path, nextDoc: IndexStats.lastDoc - 2)
            let view = SearchView(name: "docs", mapping: try SearchMapping(json: Data(Self.mapping.utf8)))
            let runner = ProjectionRunner(log: log, projections: [view], batchSize: 7)
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            var random = SeededGenerator(seed: SeededGenerator.seed(label: "SearchIndexLimitTests"))
            var model: [String: (text: String, tag: String)] = [:]
            let words = ["apple", "banana", "cherry", "date", "elder"]
            for step in 0..<600 {
                let id = "d\(Int.random(in: 0..<40, using: &random))"
                if Int.random(in: 0..<5, using: &random) == 0 {
                    try await log.append(to: id, EventData(type: "Gone"))
                    model[id] = nil
                } else {
                    let text = (0..<3).map { _ in words.randomElement(using: &random)! }.joined(separator: " ")
                    let tag = "t\(step % 3)"
                    try await log.append(to: id, jsonEvent("Put", ["text": text, "tag": tag]))
                    model[id] = (text, tag)
                }
                if step % 50 == 49 {
                    try await runner.waitUntil("docs", hasApplied: try log.headPosition(), timeout: .seconds(30))
                    let reader = try runner.reader("docs")
                    for word in words {
                        let found = Set(try reader.search(SearchRequest(word, limit: 1000)).hits.map(\.id))
                        #expect(found == Set(model.filter { $0.value.text.contains(word) }.keys), "\(word) at step \(step)")
                    }
                    let tagged = Set(try reader.search(SearchRequest("tag:t1", limit: 1000)).hits.map(\.id))
                    #expect(tagged == Set(model.filter { $0.value.tag == "t1" }.keys))
                    let health = try reader.searchIndexHealth()
                    #expect(health.documents == UInt64(model.count) && health.missingPostings == 0)
                }
            }
            running.cancel()
            _ = try? await running.value
            _ = directory
        }
    }

    /// A posting missing from where a removal looks (past the previous block's last doc) used
    /// to loop forever holding the view's write lock; now the removal ends and counts it.
    @Test func aRemovalOfAMissingPostingEndsAndIsCounted() async throws {
        try await withLog(label: "kiroku-search") { log, _ in
            let view = SearchView(name: "docs", mapping: try SearchMapping(json: Data(Self.mapping.utf8)))
            for i in 0..<300 { try await log.append(to: "d\(i)", jsonEvent("Put", ["text": "common word\(i)", "tag": "t"])) }
            do {
                let runner = ProjectionRunner(log: log, projections: [view])
                let running = Task { try await runner.run() }
                try await runner.waitUntil("docs", hasApplied: 300, timeout: .seconds(30))
                running.cancel()
                _ = try? await running.value
            }
            // Drop the last document's entry from the last block of "common", as if the analyzer
            // had not produced the term for it.
            do {
                let state = try KeyValueStore(path: log.path + "/projections/docs/v1", tables: SearchTables.all + ["_kiroku"])
                defer { state.close() }
                try state.write { txn in
                    let term = IndexKey.term(view.mapping.field(named: "text")!.0, "common")
                    let (key, value) = try #require(try txn.last(in: SearchTables.postings, prefix: term + [0], atOrBefore: IndexKey.block(term, first: .max)))
                    let first = key.withUnsafeBytes { IndexKey.readDoc($0, at: term.count + 1) }
                    var block = value.withUnsafeBytes { PostingBlock(first: first, decoding: $0, positional: true) }
                    block.entries.removeLast()
                    try txn.put(key, block.encoded(), in: SearchTables.postings)
                }
            }
            try await log.append(to: "d299", jsonEvent("Put", ["text": "changed", "tag": "t"]))
            let runner = ProjectionRunner(log: log, projections: [view])
            let running = Task { try await runner.run() }
            try await runner.waitUntil("docs", hasApplied: 301, timeout: .seconds(30))
            let reader = try runner.reader("docs")
            #expect(try reader.searchIndexHealth().missingPostings == 1)
            #expect(try reader.search(SearchRequest("changed")).hits.map(\.id) == ["d299"])
            #expect(try reader.search(SearchRequest("common", limit: 1000)).total == 299)
            running.cancel()
            _ = try? await running.value
        }
    }

    /// A view written before doc values existed (no `doc-values` mark) sorts, filters by
    /// range and counts facets from its stored documents, and answers what a view with doc
    /// values answers.
    @Test func aViewWithoutDocValuesAnswersTheSame() async throws {
        try await withSearchView { view in
            let owners = ["alice", "bob", "carol"]
            for i in 0..<1_200 {
                try await view.log.append(to: "a\(i)", jsonEvent("ActivityLogged", [
                    "text": i % 3 == 0 ? "見積を送付 quote" : "訪問 visit", "owner": owners[i % 3], "status": i % 4 == 0 ? "won" : "open",
                    "amount": Double((i * 7919) % 1000) + (i % 5 == 0 ? 0.25 : 0), "date": 1_704_067_200 + i * 3_600,
                ]))
            }
            let requests = [
                SearchRequest("quote amount:[100 TO 600]", limit: 25, sort: .init("amount", descending: true), facets: ["owner", "status"]),
                SearchRequest("status:open date:[2024-01-10 TO 2024-02-01]", limit: 25, sort: .init("date", descending: false), facets: ["owner"]),
                SearchRequest("訪問", limit: 25, sort: .init("owner", descending: true), facets: ["status"]),
                SearchRequest("*", limit: 50, sort: .init("amount", descending: false)),
                // Aggregations read the same values, by block or from stored documents.
                SearchRequest(query: .text("*"), limit: 5, aggregations: [
                    "owners": .terms("owner", sub: ["amount": .stats("amount"), "months": .dateHistogram("date", .week, sub: ["n": .count])]),
                    "amounts": .histogram("amount", interval: 250, sub: ["status": .terms("status")]),
                ]),
            ]
            var withValues: [SearchResults] = []
            for request in requests { withValues.append(try await view.search(request)) }
            // As an older view: no mark, no doc values.
            try view.runner.reader("activities").withStore { store in
                try store.write { txn in
                    try txn.delete(Array("doc-values".utf8), in: "search-meta")
                    var keys: [[UInt8]] = []
                    try txn.forEach(in: "search-values", prefix: []) { key, _ in
                        keys.append([UInt8](key))
                        return true
                    }
                    for key in keys { try txn.delete(key, in: "search-values") }
                    #expect(!keys.isEmpty)
                }
            }
            for (request, expected) in zip(requests, withValues) {
                let results = try await view.search(request)
                #expect(results.total == expected.total && results.total > 0)
                #expect(results.hits.map(\.id) == expected.hits.map(\.id), "\(request.query)")
                #expect(results.facets == expected.facets, "\(request.query)")
                #expect(results.aggregations == expected.aggregations, "\(request.query)")
            }
            #expect(withValues.last?.aggregations["owners"] != nil)
        }
    }
}
