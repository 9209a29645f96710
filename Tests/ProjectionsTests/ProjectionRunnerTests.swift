import KirokuFeed
import Foundation
import KirokuTestSupport
import KirokuLog
import Testing
@testable import KirokuProjections

/// Counts records, twice as much per record as `EventCounts` from version 2 on: a changed
/// `apply` under a bumped version.
struct Weighted: Projection {
    let name = "weighted"
    let version: Int
    let selection = Selection.all
    let tables = ["counts"]
    let delay: Duration

    func apply(_ records: [Record], to state: ProjectionState) throws {
        if delay > .zero { Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18) }
        let current = try state.get(UInt64.self, "total", in: "counts") ?? 0
        try state.put(current + UInt64(records.count * version), "total", in: "counts")
    }
}

struct Fragile: Projection {
    let name = "fragile"
    let version = 1
    let selection = Selection.all
    let tables = ["seen"]
    struct Broken: Error, CustomStringConvertible { var description: String { "cannot project Poison" } }

    func apply(_ records: [Record], to state: ProjectionState) throws {
        for record in records {
            if record.type == "Poison" { throw Broken() }
            try state.put(record.position, "last", in: "seen")
        }
    }
}


@Suite(.timeLimit(.minutes(3))) struct ProjectionRunnerTests {
    @Test func builtInsFollowTheLogAndReadYourWrites() async throws {
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            for i in 0..<30 { try await log.append(to: "k\(i % 4)", EventData(type: i.isMultiple(of: 3) ? "A" : "B", payload: Data("\(i)".utf8))) }
            let runner = ProjectionRunner(log: log, projections: [EventCounts(), LatestState()], batchSize: 7)
            let running = Task { try await runner.run() }
            try await runner.waitUntil("event-counts", hasApplied: 30, timeout: .seconds(60))
            let counts = try runner.reader("event-counts")
            #expect(try EventCounts.count(of: "A", in: counts) == 10)
            #expect(try EventCounts.count(of: "*", in: counts) == 30)
            // Read your writes: append, wait for its position, read it.
            let appended = try await log.append(to: "k9", EventData(type: "C", payload: Data("new".utf8)))
            try await runner.waitUntil("latest-state", hasApplied: appended.position, timeout: .seconds(60))
            let latest = try #require(try LatestState.entry(for: "k9", in: runner.reader("latest-state")))
            #expect(latest.position == appended.position && latest.payload == Data("new".utf8))
            try await runner.waitUntil("event-counts", hasApplied: appended.position, timeout: .seconds(60))
            #expect(try EventCounts.count(of: "C", in: runner.reader("event-counts")) == 1)
            let status = try runner.status()
            #expect(status.map(\.name) == ["event-counts", "latest-state"])
            #expect(status.allSatisfy { $0.state == .active && $0.lag == 0 && $0.position == 31 })
            running.cancel()
            try await running.value
        }
    }

    /// State and checkpoint commit together: stopped at any moment, the count always equals the
    /// checkpoint, and a restart finishes with every record counted exactly once.
    @Test func stateAndCheckpointCommitTogetherAcrossRestarts() async throws {
        try await withLog(label: "kiroku-projection-test") { log, directory async throws in
            for i in 0..<40 { try await log.append(to: "k\(i % 7)", (0..<50).map { _ in EventData(type: "T") }) }
            for round in 0..<3 {
                let runner = ProjectionRunner(log: log, projections: [EventCounts()], batchSize: 13)
                let running = Task { try await runner.run() }
                try await Task.sleep(for: .milliseconds(15 * (round + 1)))
                running.cancel()
                try await running.value
                let store = try KeyValueStore(path: directory.sub("store/projections/event-counts/v1"), tables: ["counts", "_kiroku"])
                let (count, checkpoint) = try store.read { txn in
                    (try txn.get(Array("*".utf8), in: "counts").map(EventCounts.decode) ?? 0,
                     try txn.get(Array("position".utf8), in: "_kiroku").map(EventCounts.decode) ?? 0)
                }
                store.close()
                #expect(count == checkpoint, "round \(round)")
            }
            let runner = ProjectionRunner(log: log, projections: [EventCounts()])
            let running = Task { try await runner.run() }
            try await runner.waitUntil("event-counts", hasApplied: 2000, timeout: .seconds(60))
            #expect(try EventCounts.count(of: "*", in: runner.reader("event-counts")) == 2000)
            running.cancel()
            try await running.value
        }
    }

    @Test func aFailingProjectionStopsVisiblyAndOthersGoOn() async throws {
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            try await log.append(to: "a", EventData(type: "Fine"))
            let runner = ProjectionRunner(log: log, projections: [Fragile(), EventCounts()], batchSize: 1)
            let running = Task { try await runner.run() }
            try await runner.waitUntil("fragile", hasApplied: 1, timeout: .seconds(60))
            try await log.append(to: "a", EventData(type: "Poison"))
            try await log.append(to: "a", EventData(type: "Fine"))
            try await runner.waitUntil("event-counts", hasApplied: 3, timeout: .seconds(60))
            await expectError(.projectionFailed) { try await runner.waitUntil("fragile", hasApplied: 3, timeout: .seconds(60)) }
            let fragile = try #require(try runner.status().first { $0.name == "fragile" })
            #expect(fragile.state == .failed && fragile.position == 1)
            #expect(fragile.error?.contains("cannot project Poison") == true)
            // It never skipped, and its last good state still serves reads.
            #expect(try runner.reader("fragile").get(UInt64.self, "last", in: "seen") == 1)
            running.cancel()
            try await running.value
        }
    }

    @Test func aFirstBuildThatFailsIsReportedNotServed() async throws {
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            try await log.append(to: "a", EventData(type: "Poison"))
            let runner = ProjectionRunner(log: log, projections: [Fragile()])
            let running = Task { try await runner.run() }
            await expectError(.projectionFailed) { try await runner.waitUntil("fragile", hasApplied: 1, timeout: .seconds(60)) }
            await expectError(.projectionNotReady) { _ = try runner.reader("fragile") }
            running.cancel()
            try await running.value
        }
    }

    @Test func aNewVersionBuildsBesideTheActiveOneAndSwitchesWhenCaughtUp() async throws {
        try await withLog(label: "kiroku-projection-test") { log, directory async throws in
            for i in 0..<200 { try await log.append(to: "k\(i % 5)", EventData(type: "T")) }
            do {
                let runner = ProjectionRunner(log: log, projections: [Weighted(version: 1, delay: .zero)], batchSize: 50)
                let running = Task { try await runner.run() }
                try await runner.waitUntil("weighted", hasApplied: 200, timeout: .seconds(60))
                running.cancel()
                try await running.value
            }
            // Version 2 builds slowly; version 1 keeps serving and following meanwhile.
            let runner = ProjectionRunner(log: log, projections: [Weighted(version: 1, delay: .zero), Weighted(version: 2, delay: .milliseconds(30))], batchSize: 20)
            let running = Task { try await runner.run() }
            #expect(await eventually { (try? runner.status().contains { $0.version == 2 && $0.state == .building }) == true })
            let during = try runner.reader("weighted")
            #expect(during.version == 1)
            try await log.append(to: "k", EventData(type: "T"))
            try await runner.waitUntil("weighted", hasApplied: 201, timeout: .seconds(60))
            #expect(try runner.reader("weighted").get(UInt64.self, "total", in: "counts") ?? 0 >= 200)

            #expect(await eventually { (try? runner.reader("weighted").version) == 2 })
            #expect(try runner.reader("weighted").get(UInt64.self, "total", in: "counts") == 402)
            #expect(try runner.status().contains { $0.version == 1 && $0.state == .retired })
            #expect(try runner.prune("weighted") == [1])
            #expect(!FileManager.default.fileExists(atPath: directory.sub("store/projections/weighted/v1")))
            running.cancel()
            try await running.value
            #expect(ProjectionDirectory(store: log.path, name: "weighted").activeVersion() == 2)
        }
    }

    @Test func aTornSwitchLeavesTheOldVersionActive() throws {
        let directory = TemporaryDirectory("kiroku-projection-test")
        defer { directory.remove() }
        let projection = ProjectionDirectory(store: directory.path, name: "p")
        #expect(projection.activeVersion() == nil)
        try projection.activate(1)
        // A crash after writing the next pointer and before the rename.
        try Data("v2\n".utf8).write(to: URL(fileURLWithPath: projection.activePath + ".next"))
        #expect(projection.activeVersion() == 1)
        try projection.activate(2)
        #expect(projection.activeVersion() == 2)
    }

    @Test func invalidProjectionsAreRejected() async throws {
        struct Bad: Projection {
            let name: String
            let version: Int
            let selection = Selection.all
            let tables: [String] = []
            func apply(_ records: [Record], to state: ProjectionState) throws {}
        }
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            await expectError(.invalidProjection) { try await ProjectionRunner(log: log, projections: [Bad(name: "Bad Name", version: 1)]).run() }
            await expectError(.invalidProjection) { try await ProjectionRunner(log: log, projections: [Bad(name: "ok", version: 0)]).run() }
            await expectError(.projectionNotReady) { _ = try ProjectionRunner(log: log, projections: []).reader("nothing") }
        }
    }
}

