import Feed
import Foundation
import KirokuTestSupport
import Log
import Testing
@testable import Projections

struct Undeclared: Projection {
    let name = "undeclared"
    let version = 1
    let selection = Selection.all
    let tables = ["declared"]
    func apply(_ records: [Record], to state: ProjectionState) throws {
        try state.putBytes([1], "x", in: "elsewhere")
    }
}

@Suite(.timeLimit(.minutes(1))) struct ProjectionWaitTests {
    @Test func aWaitThatCannotBeMetTimesOut() async throws {
        try await withLog(label: "kiroku-projection-test") { log, _ async throws in
            try await log.append(to: "k", EventData(type: "T"))
            let runner = ProjectionRunner(log: log, projections: [EventCounts()])
            let running = Task { try await runner.run() }
            try await runner.waitUntil("event-counts", hasApplied: 1)
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
            let error = await expectError(.projectionFailed) { try await runner.waitUntil("undeclared", hasApplied: 1) }
            #expect(error?.message.contains("elsewhere") == true)
            running.cancel()
            try await running.value
        }
    }
}
