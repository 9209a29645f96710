// The search view beside SQLite FTS5 (trigram tokenizer, external content table, B-tree
// indexes on the filter columns) on the same deterministic corpus, in the same run.
// See docs/BENCHMARKS.md. KIROKU_SEARCH_DOCS sets the corpus size (default 1,000,000).
import SearchWorkload
import Benchmark
import Foundation
import KirokuCLI
import GRDB
import KirokuCorpus
import KirokuLog
import KirokuProjections
import KirokuSearch

let documents = Int(ProcessInfo.processInfo.environment["KIROKU_SEARCH_DOCS"] ?? "") ?? 1_000_000
let corpus = ActivityCorpus()
/// `make bench-quick`: shorter runs (and, from the Makefile, 100,000 documents).
let quick = !(ProcessInfo.processInfo.environment["KIROKU_BENCH_QUICK"] ?? "").isEmpty

/// The stores every query benchmark reads, built once (by the index benchmarks, or on
/// demand) and kept on disk for the next benchmarks, which the benchmark tool runs in new
/// processes. `make bench` removes them at the end.
let stores = SearchSystems(root: NSTemporaryDirectory() + "kiroku-search-bench-\(documents)", documents: documents)

// MARK: The queries, with parameters that vary from one iteration to the next.

struct Queries {
    static let owners = (0..<20).map(ActivityCorpus.owner)
    static let customers = (0..<40).map(ActivityCorpus.customer)
    static let twoCharacter = ["見積", "訪問", "電話", "東京", "契約", "導入"]
    static let phrases = ["見積を送付", "デモを実施", "打ち合わせ", "再訪問予定", "稟議待ち", "価格面で懸念"]
    static let english = ["renewal", "demo", "quote", "discount", "migration", "competitor"]
    static let facetQueries = ["打ち合わせ", "デモを実施", "見積を送付"]

    static func year(_ i: Int) -> (String, String, Double, Double) {
        let year = 2022 + i % 3
        let from = "\(year)-01-01", to = "\(year)-12-31T23:59:59Z"
        return (from, to, DateValueForBench.epoch(year, 1, 1), DateValueForBench.epoch(year, 12, 31) + 86_399)
    }
}

enum DateValueForBench {
    static func epoch(_ year: Int, _ month: Int, _ day: Int) -> Double {
        var components = DateComponents()
        components.year = year
        components.month = month
        components.day = day
        components.timeZone = TimeZone(identifier: "UTC")
        return Calendar(identifier: .gregorian).date(from: components)!.timeIntervalSince1970
    }
}

/// Runs `body` once per iteration with the iteration number, timing each.
func iterate(_ benchmark: Benchmark, _ body: (Int) throws -> Void) rethrows {
    for i in benchmark.scaledIterations {
        try body(i)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .peakMemoryResident],
        warmupIterations: 2,
        scalingFactor: .one,
        maxDuration: quick ? .seconds(3) : .seconds(20),
        maxIterations: quick ? 50 : 200
    )
    let once = Benchmark.Configuration(metrics: [.wallClock, .peakMemoryResident], warmupIterations: 0, maxIterations: 1)

    Benchmark("Search index: Kiroku search view", configuration: once) { benchmark in
        _ = try await stores.eventLog()
        benchmark.startMeasurement()
        try await stores.buildView()
        benchmark.stopMeasurement()
    }
    Benchmark("Search index: SQLite FTS5 trigram", configuration: once) { benchmark in
        benchmark.startMeasurement()
        try stores.buildSQLite()
        benchmark.stopMeasurement()
    }

    // (a) Three filters and a date range, newest first.
    Benchmark("Search query a, three filters and a date range by date: Kiroku") { benchmark in
        let view = try await stores.view()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            let (from, to, _, _) = Queries.year(i)
            let query = "owner:\(Queries.owners[i % 20]) customer:\(Queries.customers[i % 40]) status:open date:[\(from) TO \(to)]"
            blackHole(try view.search(SearchRequest(query, limit: 20, sort: .init("date", descending: true))))
        }
    }
    Benchmark("Search query a, three filters and a date range by date: SQLite") { benchmark in
        let db = try stores.database()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            let (_, _, from, to) = Queries.year(i)
            let arguments: StatementArguments = [Queries.owners[i % 20], Queries.customers[i % 40], "open", from, to]
            try db.read { db in
                let filter = "owner = ? AND customer = ? AND status = ? AND date BETWEEN ? AND ?"
                blackHole(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM activities WHERE \(filter)", arguments: arguments))
                blackHole(try Row.fetchAll(db, sql: "SELECT key, text, owner, customer, status, amount, date FROM activities WHERE \(filter) ORDER BY date DESC LIMIT 20", arguments: arguments))
            }
        }
    }

    // (b) A two-character Japanese term and a filter.
    Benchmark("Search query b, two-character Japanese term and a filter: Kiroku") { benchmark in
        let view = try await stores.view()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try view.search(SearchRequest("\(Queries.twoCharacter[i % 6]) status:won", limit: 20)))
        }
    }
    Benchmark("Search query b, two-character Japanese term and a filter: SQLite FTS5 MATCH") { benchmark in
        let db = try stores.database()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try db.read { db in blackHole(try ftsPage(db, match: Queries.twoCharacter[i % 6], filter: "status = 'won'")) }
        }
    }
    Benchmark("Search query b, two-character Japanese term and a filter: SQLite LIKE") { benchmark in
        let db = try stores.database()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try db.read { db in blackHole(try likePage(db, Queries.twoCharacter[i % 6], filter: "status = 'won'")) }
        }
    }

    // (c) A Japanese phrase.
    Benchmark("Search query c, Japanese phrase: Kiroku") { benchmark in
        let view = try await stores.view()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try view.search(SearchRequest("\"\(Queries.phrases[i % 6])\"", limit: 20)))
        }
    }
    Benchmark("Search query c, Japanese phrase: SQLite FTS5 MATCH") { benchmark in
        let db = try stores.database()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try db.read { db in blackHole(try ftsPage(db, match: Queries.phrases[i % 6], filter: nil)) }
        }
    }

    // (d) An English term.
    Benchmark("Search query d, English term: Kiroku") { benchmark in
        let view = try await stores.view()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try view.search(SearchRequest(Queries.english[i % 6], limit: 20)))
        }
    }
    Benchmark("Search query d, English term: SQLite FTS5 MATCH") { benchmark in
        let db = try stores.database()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try db.read { db in blackHole(try ftsPage(db, match: Queries.english[i % 6], filter: nil)) }
        }
    }

    // (e) Facet counts (status and owner, top 10) over a result set.
    Benchmark("Search query e, facets over a result set: Kiroku") { benchmark in
        let view = try await stores.view()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try view.search(SearchRequest("\"\(Queries.facetQueries[i % 3])\"", limit: 20, facets: ["status", "owner"])))
        }
    }
    Benchmark("Search query e, facets over a result set: SQLite FTS5 MATCH") { benchmark in
        let db = try stores.database()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try db.read { db in
                let match = "\"\(Queries.facetQueries[i % 3])\""
                blackHole(try ftsPage(db, match: Queries.facetQueries[i % 3], filter: nil))
                for column in ["status", "owner"] {
                    blackHole(try Row.fetchAll(db, sql: """
                        SELECT a.\(column), COUNT(*) AS n FROM activities_fts f JOIN activities a ON a.id = f.rowid
                        WHERE activities_fts MATCH ? GROUP BY a.\(column) ORDER BY n DESC LIMIT 10
                        """, arguments: [match]))
                }
            }
        }
    }

    // (f) Per month, the count and the sum of amount over a phrase's hits.
    Benchmark("Search query f, date histogram by month with a sum over a phrase's hits: Kiroku") { benchmark in
        let view = try await stores.view()
        let monthly: [String: Aggregation] = ["months": .dateHistogram("date", .month, sub: ["amount": .sum("amount")])]
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try view.search(SearchRequest("\"\(Queries.facetQueries[i % 3])\"", limit: 1, snippets: false, aggregations: monthly)))
        }
    }
    Benchmark("Search query f, date histogram by month with a sum over a phrase's hits: SQLite GROUP BY") { benchmark in
        let db = try stores.database()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try db.read { db in
                blackHole(try Row.fetchAll(db, sql: """
                    SELECT strftime('%Y-%m', a.date, 'unixepoch') AS month, COUNT(*), SUM(a.amount) FROM activities_fts f
                    JOIN activities a ON a.id = f.rowid WHERE activities_fts MATCH ? GROUP BY month ORDER BY month
                    """, arguments: ["\"\(Queries.facetQueries[i % 3])\""]))
            }
        }
    }

    // (g) The top owners with the sum of their amount over a phrase's hits.
    Benchmark("Search query g, top owners with a sum over a phrase's hits: Kiroku") { benchmark in
        let view = try await stores.view()
        let owners: [String: Aggregation] = ["owners": .terms("owner", size: 10, sub: ["amount": .sum("amount")])]
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try view.search(SearchRequest("\"\(Queries.facetQueries[i % 3])\"", limit: 1, snippets: false, aggregations: owners)))
        }
    }
    Benchmark("Search query g, top owners with a sum over a phrase's hits: SQLite GROUP BY") { benchmark in
        let db = try stores.database()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try db.read { db in
                blackHole(try Row.fetchAll(db, sql: """
                    SELECT a.owner, COUNT(*) AS n, SUM(a.amount) FROM activities_fts f JOIN activities a ON a.id = f.rowid
                    WHERE activities_fts MATCH ? GROUP BY a.owner ORDER BY n DESC, a.owner LIMIT 10
                    """, arguments: ["\"\(Queries.facetQueries[i % 3])\""]))
            }
        }
    }

    // (h) The 100,000 deals joined with their activities: the 20 deals with the most
    // activities matching a phrase, with the sum of their amount.
    Benchmark("Search query h, join of 100,000 deals with their activities: Kiroku") { benchmark in
        let activities = try await stores.view()
        let deals = try await stores.deals()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            let join = SearchJoin(view: "activities", query: "\"\(Queries.facetQueries[i % 3])\"", field: "deal", metric: .sum("amount"), orderBy: .count)
            blackHole(try deals.search(SearchRequest(query: .built(.all), limit: 20, snippets: false), joining: join, with: activities))
        }
    }
    Benchmark("Search query h, join of 100,000 deals with their activities: SQLite JOIN") { benchmark in
        let db = try stores.database()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            try db.read { db in
                blackHole(try Row.fetchAll(db, sql: """
                    SELECT d.id, d.customer, d.owner, d.status, COUNT(*) AS n, SUM(a.amount) FROM activities_fts f
                    JOIN activities a ON a.id = f.rowid JOIN deals d ON d.id = a.deal
                    WHERE activities_fts MATCH ? GROUP BY d.id ORDER BY n DESC, d.id LIMIT 20
                    """, arguments: ["\"\(Queries.facetQueries[i % 3])\""]))
            }
        }
    }

    // Append-to-searchable: durable appends at a steady rate, the search view following.
    for rate in [20, 63, 200, 1000, 10_000] {
        Benchmark(String(format: "Searchable latency %05d/s", rate),
                  configuration: .init(metrics: [searchableLatency], warmupIterations: 0, maxIterations: 1)) { benchmark in
            try await measureSearchable(benchmark, rate: rate, duration: .seconds(quick ? 2 : rate < 100 ? 10 : 5))
        }
    }

    Benchmark("Search quality: precision and recall", configuration: once) { _ in
        try await measureQuality()
        stores.stopView()
    }
}

/// A page of FTS5 hits by rank, with the total, like a search engine's answer.
func ftsPage(_ db: Database, match: String, filter: String?) throws -> (Int, [Row]) {
    let phrase = "\"\(match.replacingOccurrences(of: "\"", with: "\"\""))\""
    let condition = filter.map { " AND \($0)" } ?? ""
    let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM activities_fts f JOIN activities a ON a.id = f.rowid WHERE activities_fts MATCH ?\(condition)", arguments: [phrase]) ?? 0
    let rows = try Row.fetchAll(db, sql: """
        SELECT a.key, a.text, a.owner, a.customer, a.status, a.amount, a.date FROM activities_fts f JOIN activities a ON a.id = f.rowid
        WHERE activities_fts MATCH ?\(condition) ORDER BY f.rank LIMIT 20
        """, arguments: [phrase])
    return (total, rows)
}

/// What an SQLite user does when FTS5's trigrams cannot answer: LIKE, a full scan.
func likePage(_ db: Database, _ text: String, filter: String?) throws -> (Int, [Row]) {
    let condition = filter.map { " AND \($0)" } ?? ""
    let pattern = "%\(text)%"
    let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM activities WHERE text LIKE ?\(condition)", arguments: [pattern]) ?? 0
    let rows = try Row.fetchAll(db, sql: "SELECT key, text, owner, customer, status, amount, date FROM activities WHERE text LIKE ?\(condition) LIMIT 20", arguments: [pattern])
    return (total, rows)
}

// MARK: Quality

/// Precision and recall of both engines against substring truth (NFKC, lowercase), written to
/// `.build-bench/search-quality.json` for the report.
func measureQuality() async throws {
    let view = try await stores.view()
    let db = try stores.database()
    let analyzer = Analyzer()
    var texts: [String] = []
    texts.reserveCapacity(documents)
    for i in 0..<documents { texts.append(analyzer.normalize(corpus.activity(i).text)) }
    var rows: [[String: Any]] = []
    let cases: [(String, String)] = [("b", "見積"), ("b", "東京"), ("one character", "京"), ("c", "見積を送付"), ("c", "打ち合わせ"), ("d", "renewal"), ("d", "demo")]
    for (label, text) in cases {
        var truth = Set<String>()
        for (i, body) in texts.enumerated() where body.contains(analyzer.normalize(text)) { truth.insert("activity-\(i)") }
        // Every Kiroku hit, page by page.
        var kiroku = Set<String>()
        var after: String?
        repeat {
            let page = try view.search(SearchRequest("\"\(text)\"", limit: 10_000, after: after, snippets: false))
            kiroku.formUnion(page.hits.map(\.id))
            after = page.next
        } while after != nil
        let phrase = "\"\(text)\""
        let fts = try await db.read { db in
            Set(try String.fetchAll(db, sql: "SELECT a.key FROM activities_fts f JOIN activities a ON a.id = f.rowid WHERE activities_fts MATCH ?", arguments: [phrase]))
        }
        func score(_ found: Set<String>) -> [String: Double] {
            let correct = Double(found.intersection(truth).count)
            return ["precision": found.isEmpty ? (truth.isEmpty ? 1 : 0) : correct / Double(found.count),
                    "recall": truth.isEmpty ? 1 : correct / Double(truth.count), "hits": Double(found.count)]
        }
        rows.append(["query": text, "case": label, "truth": truth.count, "kiroku": score(kiroku), "fts5": score(fts)])
    }
    let directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).deletingLastPathComponent().appendingPathComponent(".build-bench")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let data = try JSONSerialization.data(withJSONObject: ["documents": documents, "queries": rows], options: [.prettyPrinted, .sortedKeys])
    try data.write(to: directory.appendingPathComponent("search-quality.json"))
}

// MARK: Append to searchable

let searchableLatency = BenchmarkMetric.custom("Searchable latency (ns)", polarity: .prefersSmaller, useScalingFactor: false)

/// A durable log takes activity appends at `rate`/s (single-event appends from enough tasks to
/// keep the pace); each newest acknowledged append is timed from the moment its append returned
/// until the search view has applied it (read-your-writes: it is then searchable).
func measureSearchable(_ benchmark: Benchmark, rate: Int, duration: Duration) async throws {
    let path = NSTemporaryDirectory() + "kiroku-searchable-\(getpid())-\(rate)"
    try? FileManager.default.removeItem(atPath: path)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let log = try EventLog(path: path)
    defer { log.close() }
    let view = SearchView(name: "activities", mapping: try SearchMapping(json: Data(ActivityCorpus.mapping.utf8)))
    let runner = ProjectionRunner(log: log, projections: [view])
    let running = Task { try await runner.run() }
    try await runner.waitUntil("activities", hasApplied: 0)
    let latest = LatestAppend()
    let tasks = max(1, min(32, rate / 300))
    let clock = ContinuousClock()
    let start = clock.now
    let appending = Task {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<tasks {
                group.addTask {
                    let encoder = JSONEncoder()
                    let interval = Duration.seconds(1) * (Double(tasks) / Double(rate))
                    var tick = 0
                    while clock.now - start < duration {
                        try await clock.sleep(until: start + interval * tick, tolerance: .microseconds(50))
                        let activity = corpus.activity(tick * tasks + lane)
                        let result = try await log.append(to: activity.key, EventData(type: "ActivityLogged", payload: try encoder.encode(activity)))
                        latest.set(result.positions.upperBound)
                        tick += 1
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    var samples: [Int] = []
    try await latest.sample(every: .milliseconds(1), while: { clock.now - start < duration }, until: { position in
        try await runner.waitUntil("activities", hasApplied: position, timeout: .seconds(30))
    }, record: { lag in
        samples.append(Int(lag.components.seconds) * 1_000_000_000 + Int(lag.components.attoseconds / 1_000_000_000))
    })
    try await appending.value
    running.cancel()
    _ = try? await running.value
    for sample in samples { benchmark.measurement(searchableLatency, sample) }
}
