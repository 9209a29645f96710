import KirokuFeed
import Foundation
import KirokuTestSupport
import KirokuLog
import Testing
@testable import KirokuProjections

/// Exactly-once under kill -9: a child process runs a counting projection while this one
/// appends; it is killed at random moments and started again. The count always equals the
/// checkpoint, and at the end equals the log.
@Suite(.timeLimit(.minutes(3))) struct CrashTests {
    /// The count and the checkpoint, read together in one transaction of the child's store.
    func readState(_ path: String) throws -> (count: UInt64, checkpoint: UInt64)? {
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else { return nil }
        let store = try KeyValueStore(path: path, tables: ["counts", "_kiroku"])
        defer { store.close() }
        return try store.read { txn in
            (try txn.get(Array("*".utf8), in: "counts").map(EventCounts.decode) ?? 0,
             try txn.get(Array("position".utf8), in: "_kiroku").map(EventCounts.decode) ?? 0)
        }
    }

    @Test func killedAtRandomMomentsTheCountsEqualAFreshRebuild() async throws {
        let helper = try helperExecutable()
        let seed = SeededGenerator.seed(label: "killedAtRandomMomentsTheCountsEqualAFreshRebuild")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory("kiroku-projection-crash")
        defer { directory.remove() }
        let path = directory.sub("store")
        let log = try EventLog(path: path)
        defer { log.close() }
        let statePath = path + "/projections/event-counts/v1"
        var lastCheckpoint: UInt64 = 0
        for round in 0..<8 {
            let child = try launch(helper, ["project", path])
            for _ in 0..<Int.random(in: 5...30, using: &random) {
                try await log.append(to: "k\(Int.random(in: 0..<9, using: &random))",
                                     (0..<Int.random(in: 1...40, using: &random)).map { _ in EventData(type: "T") })
            }
            // Let the child make progress, give it more work, and kill it in the middle of it.
            let before = lastCheckpoint
            let deadline = ContinuousClock.now + .seconds(20)
            while try readState(statePath)?.checkpoint ?? 0 <= before, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))
            }
            try await log.append(to: "burst", (0..<Int.random(in: 200...2000, using: &random)).map { _ in EventData(type: "T") })
            try await Task.sleep(for: .microseconds(Int.random(in: 0...20_000, using: &random)))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            let state = try #require(try readState(statePath))
            #expect(state.count == state.checkpoint, "seed \(seed), round \(round): count \(state.count), checkpoint \(state.checkpoint)")
            #expect(state.checkpoint > before, "seed \(seed), round \(round): the child made no progress")
            lastCheckpoint = state.checkpoint
        }
        // Finish in this process, and compare with a fresh rebuild under another name.
        let head = try log.headPosition()
        let runner = ProjectionRunner(log: log, projections: [EventCounts(), EventCounts(name: "fresh")])
        let running = Task { try await runner.run() }
        try await runner.waitUntil("event-counts", hasApplied: head, timeout: .seconds(30))
        try await runner.waitUntil("fresh", hasApplied: head, timeout: .seconds(30))
        let resumed = try EventCounts.count(of: "*", in: runner.reader("event-counts"))
        let fresh = try EventCounts.count(of: "*", in: runner.reader("fresh"))
        #expect(resumed == head && fresh == head, "seed \(seed)")
        running.cancel()
        try await running.value
    }

    /// Killed while version 2 builds, switches on, or after: the pointer always names a whole
    /// version, and that version's state always matches its checkpoint.
    @Test func killedAroundABlueGreenSwitchTheActiveViewIsWhole() async throws {
        let helper = try helperExecutable()
        let seed = SeededGenerator.seed(label: "killedAroundABlueGreenSwitchTheActiveViewIsWhole")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory("kiroku-projection-switch")
        defer { directory.remove() }
        let path = directory.sub("store")
        let log = try EventLog(path: path)
        defer { log.close() }
        for i in 0..<60 { try await log.append(to: "k\(i % 7)", (0..<50).map { _ in EventData(type: "T") }) }
        do {
            let runner = ProjectionRunner(log: log, projections: [Weighted(version: 1, delay: .zero)])
            let running = Task { try await runner.run() }
            try await runner.waitUntil("weighted", hasApplied: 3000, timeout: .seconds(60))
            running.cancel()
            try await running.value
        }
        let pointer = ProjectionDirectory(store: path, name: "weighted")
        var roundsAfterSwitch = 0
        for round in 0..<10 {
            let child = try launch(helper, ["switch", path])
            try await Task.sleep(for: .milliseconds(Int.random(in: 5...250, using: &random)))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            let active = try #require(pointer.activeVersion(), "seed \(seed), round \(round): no whole pointer")
            #expect(active == 1 || active == 2, "seed \(seed), round \(round)")
            if active == 2 { roundsAfterSwitch += 1 }
            let store = try KeyValueStore(path: pointer.versionPath(active), tables: ["counts", "_kiroku"])
            let (total, checkpoint) = try store.read { txn in
                (try txn.get(Array("total".utf8), in: "counts").map { try JSONDecoder().decode(UInt64.self, from: Data($0)) } ?? 0,
                 try txn.get(Array("position".utf8), in: "_kiroku").map(EventCounts.decode) ?? 0)
            }
            store.close()
            #expect(total == checkpoint * UInt64(active), "seed \(seed), round \(round): v\(active) total \(total), checkpoint \(checkpoint)")
            if active == 2 { #expect(checkpoint == 3000, "a version switches on only once caught up") }
        }
        // However the kills fell, finishing the switch here gives the whole new view.
        let runner = ProjectionRunner(log: log, projections: [Weighted(version: 1, delay: .zero), Weighted(version: 2, delay: .zero)])
        let running = Task { try await runner.run() }
        #expect(await eventually { (try? runner.reader("weighted").version) == 2 }, "seed \(seed)")
        #expect(try runner.reader("weighted").get(UInt64.self, "total", in: "counts") == 6000)
        running.cancel()
        try await running.value
        print("killedAroundABlueGreenSwitch: \(roundsAfterSwitch) of 10 kills landed after the switch")
    }
}
