import KirokuFeed
import Foundation
import KirokuTestSupport
import KirokuLog
import Testing
@testable import KirokuProjections

struct Undeclared: Projection {
    let name = "undeclared"
    let version = 1
    let selection = Selection.all
    let tables = ["declared"]
    func apply(_ records: [Record], to state: ProjectionState) throws {
        try state.putBytes([1], "x", in: "elsewhere")
    }
}

@Suite(.timeLimit(.minutes(3))) struct ProjectionWaitTests {
    @Test func aWaitThatCannotBeMetTimesOut() async throws {
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            try await log.append(to: "k", EventData(type: "T"))
            let runner = ProjectionRunner(log: log, projections: [EventCounts()])
            let running = Task { try await runner.run() }
            try await runner.waitUntil("event-counts", hasApplied: 1, timeout: .seconds(60))
            let error = await expectError(.projectionTimeout) {
                try await runner.waitUntil("event-counts", hasApplied: 99, timeout: .milliseconds(50))
            }
            #expect(error?.message.contains("it is at 1") == true)
            running.cancel()
            try await running.value
        }
    }

    @Test func undeclaredTablesAreRejected() async throws {
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            try await log.append(to: "k", EventData(type: "T"))
            let runner = ProjectionRunner(log: log, projections: [Undeclared()])
            let running = Task { try await runner.run() }
            let error = await expectError(.projectionFailed) { try await runner.waitUntil("undeclared", hasApplied: 1, timeout: .seconds(60)) }
            #expect(error?.message.contains("elsewhere") == true)
            running.cancel()
            try await running.value
        }
    }
}

/// Waits end at once when what they wait for cannot happen, and follow the active version.
/// The suite's time limit is the hang guard: on the first wave's code these waits polled until
/// their timeout (an hour in the CLI).
@Suite(.timeLimit(.minutes(3))) struct WaitWakeUpTests {
    struct Counting: Projection {
        let name = "counting"
        let version: Int
        let selection = Selection.all
        let tables = ["n"]
        func apply(_ records: [Record], to state: ProjectionState) throws {
            let current = try state.bytes("n", in: "n").map { Int($0[0]) } ?? 0
            try state.putBytes([UInt8((current + records.count) % 256), UInt8(version)], "n", in: "n")
        }
    }

    @Test func aRunnerThatCannotStartEndsEveryWaitAtOnce() async throws {
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            let runner = ProjectionRunner(log: log, projections: [VersionedProjection(EventCounts(), version: 0)])
            let waited = Task { try await runner.waitUntil("event-counts", hasApplied: 1, timeout: .seconds(3600)) }
            await #expect(throws: KirokuError.self) { try await runner.run() }
            let error = await expectError(.invalidProjection) { try await waited.value }
            #expect(error?.message.contains("versions start at 1") == true)
            // A wait that starts after the runner failed ends at once too.
            await expectError(.invalidProjection) { try await runner.waitUntil("event-counts", hasApplied: 1, timeout: .seconds(3600)) }
        }
    }

    @Test func aFailedFirstBuildAndAStoppedRunnerEndWaitsAtOnce() async throws {
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            try await log.append(to: "k", EventData(type: "T"))
            let runner = ProjectionRunner(log: log, projections: [Undeclared(), EventCounts()])
            let running = Task { try await runner.run() }
            await expectError(.projectionFailed) { try await runner.waitUntil("undeclared", hasApplied: 1, timeout: .seconds(3600)) }
            await expectError(.projectionNotReady) { try await runner.waitUntil("not-registered", hasApplied: 1, timeout: .seconds(3600)) }
            try await runner.waitUntil("event-counts", hasApplied: 1, timeout: .seconds(60))
            let pending = Task { try await runner.waitUntil("event-counts", hasApplied: 5, timeout: .seconds(3600)) }
            try await Task.sleep(for: .milliseconds(20))
            running.cancel()
            try await running.value
            let stopped = await expectError(.projectionNotReady) { try await pending.value }
            #expect(stopped?.message.contains("stopped") == true)
        }
    }

    /// v1 serves, frozen (its code is gone), while v2 builds; a wait for a position only v2
    /// reaches ends when v2 has switched on, and a reader taken before the switch reads v2 after.
    @Test func waitsAndReadersFollowTheActiveVersionAcrossASwitch() async throws {
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            for _ in 0..<3 { try await log.append(to: "k", EventData(type: "T")) }
            do {
                let runner = ProjectionRunner(log: log, projections: [Counting(version: 1)])
                let running = Task { try await runner.run() }
                try await runner.waitUntil("counting", hasApplied: 3, timeout: .seconds(60))
                running.cancel()
                try await running.value
            }
            // One commit (2,000 durable appends one by one took over a minute on a slow disk).
            try await log.append(to: "k", (0..<2000).map { _ in EventData(type: "T") })
            let head = try log.headPosition()
            let runner = ProjectionRunner(log: log, projections: [Counting(version: 2)], batchSize: 50)
            let running = Task { try await runner.run() }
            let reader = try await { () async throws -> ProjectionReader in
                while true {
                    if let reader = try? runner.reader("counting") { return reader }
                    try await Task.sleep(for: .milliseconds(1))
                }
            }()
            #expect(reader.followsActiveVersion)
            let before = try reader.bytes("n", in: "n")
            try await runner.waitUntil("counting", hasApplied: head, timeout: .seconds(30))
            #expect(try runner.status().first { $0.version == 2 }?.state == .active)
            // Taken before the switch (when it read v1, or v2 if the build was that quick), it reads v2 now.
            #expect(before == [3, 1] || before?[1] == 2)
            #expect(try reader.bytes("n", in: "n") == [UInt8(head % 256), 2])
            #expect(reader.version == 2)
            try await runner.waitUntil("counting", version: 2, hasApplied: head, timeout: .seconds(60))
            await expectError(.projectionNotReady) { try await runner.waitUntil("counting", version: 1, hasApplied: 1, timeout: .seconds(60)) }
            // After the old version is pruned, the reader still reads.
            #expect(try runner.prune("counting") == [1])
            #expect(try reader.bytes("n", in: "n") == [UInt8(head % 256), 2])
            running.cancel()
            try await running.value
        }
    }
}
