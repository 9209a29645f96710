import Foundation
import KirokuTestSupport
import KirokuLog
import Testing
@testable import KirokuFeed

@Suite(.timeLimit(.minutes(3))) struct ConsumersTests {
    @Test func checkpointsAreDurableAndListedWithLag() async throws {
        let directory = TemporaryDirectory("kiroku-feed-test")
        defer { directory.remove() }
        let path = directory.sub("store")
        do {
            let log = try EventLog(path: path)
            for _ in 0..<10 { try await log.append(to: "k", event()) }
            let consumers = try await Consumers(log: log)
            #expect(try consumers.checkpoint(of: "a") == nil)
            try await consumers.commit("a", position: 4)
            try await consumers.commit("b", position: 10)
            log.close()
        }
        let log = try EventLog(path: path)
        defer { log.close() }
        let consumers = try await Consumers(log: log)
        #expect(try consumers.checkpoint(of: "a") == 4)
        let statuses = try consumers.list()
        #expect(statuses.map(\.name) == ["a", "b"])
        #expect(statuses[0].lagRecords == 6 && statuses[1].lagRecords == 0)
        #expect(statuses[0].lagSeconds >= 0 && statuses[1].lagSeconds == 0)
        #expect(!statuses[0].isStalled && !statuses[1].isStalled)
        try await consumers.remove("b")
        #expect(try consumers.list().map(\.name) == ["a"])
    }

    /// A consumer that is behind and makes no progress says so: a gray failure made visible.
    @Test func aConsumerBehindWithoutProgressReportsItselfStalled() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            let consumers = try await Consumers(log: log)
            try await consumers.commit("slow", position: 0, stallAfter: .seconds(30))
            try await log.append(to: "k", event())
            let now = try consumers.status(of: "slow")
            #expect(now?.isStalled == false)
            let later = try consumers.status(of: "slow", now: Date().addingTimeInterval(31))
            #expect(later?.isStalled == true)
            #expect(later?.lagRecords == 1)
            // Caught up: never stalled, however long since progress.
            try await consumers.commit("slow", position: 1)
            #expect(try consumers.status(of: "slow", now: Date().addingTimeInterval(3600))?.isStalled == false)
        }
    }

    @Test func badConsumerNamesAreRejected() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            let consumers = try await Consumers(log: log)
            await expectError(.invalidConsumerName) { try await consumers.commit("", position: 1) }
            await expectError(.invalidConsumerName) { try await consumers.commit("a\u{0}b", position: 1) }
            await expectError(.invalidConsumerName) { _ = try consumers.checkpoint(of: String(repeating: "n", count: 201)) }
        }
    }
}
