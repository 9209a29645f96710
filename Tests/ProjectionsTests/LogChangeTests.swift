import KirokuFeed
import Foundation
import KirokuTestSupport
import KirokuLog
import Testing
@testable import KirokuProjections

/// A projection notices a log that no longer holds what it applied, and a build torn by an
/// OS crash is not served.
@Suite(.timeLimit(.minutes(3))) struct LogChangeTests {
    /// Counts records (the count is the state to check).
    struct Counter: Projection {
        let name = "counter"
        let version: Int
        let selection = Selection.all
        let tables = ["n"]
        init(version: Int = 1) { self.version = version }
        func apply(_ records: [Record], to state: ProjectionState) throws {
            let current = try state.bytes("n", in: "n").map(EventCounts.decode) ?? 0
            try state.putBytes(EventCounts.encode(current + UInt64(records.count)), "n", in: "n")
        }
    }

    static func runUntilApplied(_ log: EventLog, _ projections: [any Projection], _ position: UInt64) async throws -> UInt64 {
        let runner = ProjectionRunner(log: log, projections: projections)
        let running = Task { try await runner.run() }
        defer { running.cancel() }
        try await runner.waitUntil("counter", hasApplied: position, timeout: .seconds(30))
        let count = try runner.reader("counter").bytes("n", in: "n").map(EventCounts.decode) ?? 0
        running.cancel()
        _ = try? await running.value
        return count
    }

    /// The first wave's case: an older `data.mdb` restored (as a power loss under `.noSync`
    /// can roll the log back), then five appends: the projection said lag 0 and never applied them.
    @Test func aRolledBackAndRewrittenLogStopsTheProjection() async throws {
        let directory = TemporaryDirectory("kiroku-log-change")
        defer { directory.remove() }
        let store = directory.sub("store")
        do {
            let log = try EventLog(path: store)
            for i in 0..<5 { try await log.append(to: "k", EventData(type: "T", payload: Data("old \(i)".utf8))) }
            log.close()
        }
        try FileManager.default.copyItem(atPath: store + "/data.mdb", toPath: directory.sub("older.mdb"))
        do {
            let log = try EventLog(path: store)
            for i in 5..<10 { try await log.append(to: "k", EventData(type: "T", payload: Data("old \(i)".utf8))) }
            #expect(try await Self.runUntilApplied(log, [Counter()], 10) == 10)
            log.close()
        }
        // Roll the log back to 5 records: the projection is now ahead of it.
        try FileManager.default.removeItem(atPath: store + "/data.mdb")
        try FileManager.default.copyItem(atPath: directory.sub("older.mdb"), toPath: store + "/data.mdb")
        let ahead = try await kiroku(["verify", store])
        #expect(ahead.status == 3 && ahead.out.contains("past the log's head 5"), "\(ahead.out)")
        let log = try EventLog(path: store)
        defer { log.close() }
        for i in 5..<10 { try await log.append(to: "k", EventData(type: "T", payload: Data("new \(i)".utf8))) }
        // Head is 10 again, but positions 6-10 hold other records.
        let runner = ProjectionRunner(log: log, projections: [Counter()])
        let running = Task { try await runner.run() }
        defer { running.cancel() }
        let error = await expectError(.projectionLogMismatch) { try await runner.waitUntil("counter", hasApplied: 10, timeout: .seconds(30)) }
        #expect(error?.message.contains("position 10") == true && error?.message.contains("rebuild") == true, "\(String(describing: error))")
        #expect(try runner.status().first?.state == .failed)
        running.cancel()
        _ = try? await running.value
        log.close()
        let verified = try await kiroku(["verify", store])
        #expect(verified.status == 3 && verified.out.contains("projection-log-mismatch"), "\(verified.out)")
    }

    @Test func aProjectionOfAnotherStoreIsRefused() async throws {
        try await withLog(label: "kiroku-log-change") { log, directory in
            for _ in 0..<3 { try await log.append(to: "k", EventData(type: "T")) }
            #expect(try await Self.runUntilApplied(log, [Counter()], 3) == 3)
            // Another store with as many records, given this one's projections.
            let other = try EventLog(path: directory.sub("other"))
            defer { other.close() }
            for _ in 0..<3 { try await other.append(to: "k", EventData(type: "T")) }
            try FileManager.default.copyItem(atPath: log.path + "/projections", toPath: directory.sub("other/projections"))
            let runner = ProjectionRunner(log: other, projections: [Counter()])
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            let error = await expectError(.projectionLogMismatch) { try await runner.waitUntil("counter", hasApplied: 3, timeout: .seconds(30)) }
            #expect(error?.message.contains("another store") == true)
        }
    }

    /// A build commits without fsync; one marked by another boot of the machine (an OS crash
    /// while it built) is discarded and rebuilt, one marked by this boot (a process crash)
    /// resumes from its checkpoint.
    @Test func aBuildFromAnEarlierBootIsRebuiltAndOneFromThisBootResumes() async throws {
        try await withLog(label: "kiroku-log-change") { log, _ in
            for _ in 0..<20 { try await log.append(to: "k", EventData(type: "T")) }
            let path = log.path + "/projections/counter/v1"
            /// A build at position 5 that counted 1000 (wrong on purpose, to see whether it is kept).
            func plantBuild(boot: String) throws {
                let state = try KeyValueStore(path: path, tables: ["n", RunningVersion.metaTable])
                try state.write { txn in
                    var position = UInt64(5).littleEndian
                    try txn.put(RunningVersion.positionKey, withUnsafeBytes(of: &position) { Array($0) }, in: RunningVersion.metaTable)
                    try txn.put(Array("n".utf8), EventCounts.encode(1000), in: "n")
                }
                state.close()
                try Data(boot.utf8).write(to: URL(fileURLWithPath: RunningVersion.unsyncedMarker(path)))
            }
            try plantBuild(boot: "an-earlier-boot")
            #expect(try await Self.runUntilApplied(log, [Counter()], 20) == 20, "rebuilt from the first record")
            #expect(!FileManager.default.fileExists(atPath: RunningVersion.unsyncedMarker(path)), "switched on: flushed, marker gone")
            try FileManager.default.removeItem(atPath: log.path + "/projections")
            try plantBuild(boot: RunningVersion.bootId())
            #expect(try await Self.runUntilApplied(log, [Counter()], 20) == 1015, "resumed at position 6")
        }
    }
}

/// Runs the built `kiroku` binary.
func kiroku(_ arguments: [String]) async throws -> (status: Int32, out: String, err: String) {
    try await runProcess(try helperExecutable("kiroku"), arguments)
}
