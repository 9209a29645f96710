// The two stores the search benchmarks compare, built from the same corpus.
import Foundation
import KirokuCLI
import GRDB
import KirokuCorpus
import KirokuLog
import KirokuProjections
import KirokuSearch

/// Builds and opens the Kiroku log and search view, and the SQLite FTS5 database, under one
/// directory. Built stores are marked complete and reused by later benchmark processes.
public final class SearchSystems: @unchecked Sendable {
    public let root: String
    public let documents: Int
    let corpus = ActivityCorpus()

    /// `@unchecked Sendable`: used by one benchmark (or the probe) at a time.
    public var log: EventLog?
    public var runner: ProjectionRunner?
    var running: Task<Void, any Error>?
    public var reader: ProjectionReader?
    public var sqlite: DatabaseQueue?

    var logReady: String { root + "/log-complete" }
    var viewReady: String { root + "/view-complete" }
    var sqliteReady: String { root + "/sqlite-complete" }
    var dealsReady: String { root + "/deals-complete" }
    var dealsRunner: ProjectionRunner?
    var dealsRunning: Task<Void, any Error>?
    /// The deals view (one document per deal, ``ActivityCorpus/dealsMapping``), for joins.
    public var dealsReader: ProjectionReader?

    public init(root: String, documents: Int) {
        self.root = root
        self.documents = documents
    }

    /// The log holding the corpus as `ActivityLogged` records, appended 1000 per commit.
    public func eventLog() async throws -> EventLog {
        if let log { return log }
        var options = EventLog.Options()
        options.durability = .noSync(flushInterval: .seconds(3600))
        options.initialMapSize = 1 << 31
        if FileManager.default.fileExists(atPath: logReady) {
            let log = try EventLog(path: root + "/log", options: options)
            self.log = log
            return log
        }
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let log = try EventLog(path: root + "/log", options: options)
        try await corpus.append(0..<documents, to: log)
        _ = FileManager.default.createFile(atPath: logReady, contents: nil)
        self.log = log
        return log
    }

    /// Builds the search view from the log (batches of 5000); returns when it has applied
    /// every record and is active.
    public func buildView() async throws {
        let log = try await eventLog()
        stopView()
        try? FileManager.default.removeItem(atPath: viewReady)
        try? FileManager.default.removeItem(atPath: root + "/log/projections")
        try await startView(log)
        _ = FileManager.default.createFile(atPath: viewReady, contents: nil)
    }

    private func startView(_ log: EventLog) async throws {
        let view = SearchView(name: "activities", mapping: try SearchMapping(json: Data(ActivityCorpus.mapping.utf8)))
        let runner = ProjectionRunner(log: log, projections: [view], batchSize: 5000)
        running = Task { try await runner.run() }
        try await runner.waitUntil("activities", hasApplied: try log.headPosition(), timeout: .seconds(3600))
        self.runner = runner
        reader = try runner.reader("activities")
    }

    /// The deals view, built from the log the first time (in a runner of its own, so the
    /// activities view's index time does not include it).
    public func deals() async throws -> ProjectionReader {
        if let dealsReader { return dealsReader }
        let log = try await eventLog()
        let view = SearchView(name: "deals", mapping: try SearchMapping(json: Data(ActivityCorpus.dealsMapping.utf8)))
        let runner = ProjectionRunner(log: log, projections: [view], batchSize: 5000)
        dealsRunning = Task { try await runner.run() }
        try await runner.waitUntil("deals", hasApplied: try log.headPosition(), timeout: .seconds(3600))
        _ = FileManager.default.createFile(atPath: dealsReady, contents: nil)
        dealsRunner = runner
        dealsReader = try runner.reader("deals")
        return dealsReader!
    }

    /// Stops the view's runner.
    public func stopView() {
        dealsRunning?.cancel()
        dealsRunning = nil
        dealsReader = nil
        dealsRunner = nil
        running?.cancel()
        running = nil
        reader = nil
        runner = nil
    }

    /// The search view, built if no earlier process built it.
    public func view() async throws -> ProjectionReader {
        if let reader { return reader }
        if FileManager.default.fileExists(atPath: viewReady) {
            try await startView(try await eventLog())
        } else {
            try await buildView()
        }
        return reader!
    }

    /// Builds the SQLite database: WAL, `synchronous=NORMAL`, rows in transactions of 5000,
    /// the external-content FTS5 table (trigram tokenizer) kept in step, B-tree indexes on the
    /// filter columns.
    public func buildSQLite() throws {
        sqlite = nil
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: sqliteReady)
        let path = root + "/fts.sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE activities(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, text TEXT NOT NULL, owner TEXT NOT NULL,
                                        customer TEXT NOT NULL, status TEXT NOT NULL, amount REAL NOT NULL, date REAL NOT NULL, deal TEXT NOT NULL);
                CREATE TABLE deals(id TEXT PRIMARY KEY, customer TEXT NOT NULL, owner TEXT NOT NULL, status TEXT NOT NULL) WITHOUT ROWID;
                CREATE INDEX activities_deal ON activities(deal);
                CREATE INDEX activities_owner ON activities(owner);
                CREATE INDEX activities_customer ON activities(customer);
                CREATE INDEX activities_status ON activities(status);
                CREATE INDEX activities_date ON activities(date);
                CREATE VIRTUAL TABLE activities_fts USING fts5(text, content='activities', content_rowid='id', tokenize='trigram');
                """)
        }
        for start in stride(from: 0, to: documents, by: 5000) {
            try queue.write { db in
                let insert = try db.makeStatement(sql: "INSERT INTO activities(id, key, text, owner, customer, status, amount, date, deal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
                let index = try db.makeStatement(sql: "INSERT INTO activities_fts(rowid, text) VALUES (?, ?)")
                // A deal is what its latest activity says, as the deals view keeps it.
                let deal = try db.makeStatement(sql: "INSERT OR REPLACE INTO deals(id, customer, owner, status) VALUES (?, ?, ?, ?)")
                for i in start..<min(documents, start + 5000) {
                    let a = corpus.activity(i)
                    try insert.execute(arguments: [i + 1, a.key, a.text, a.owner, a.customer, a.status, a.amount, a.epoch, a.deal])
                    try index.execute(arguments: [i + 1, a.text])
                    try deal.execute(arguments: [a.deal, a.customer, a.owner, a.status])
                }
            }
        }
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE); ANALYZE") }
        _ = FileManager.default.createFile(atPath: sqliteReady, contents: nil)
        sqlite = queue
    }

    /// The SQLite database, built if no earlier process built it.
    public func database() throws -> DatabaseQueue {
        if let sqlite { return sqlite }
        if FileManager.default.fileExists(atPath: sqliteReady) {
            sqlite = try DatabaseQueue(path: root + "/fts.sqlite")
        } else {
            try buildSQLite()
        }
        return sqlite!
    }
}
