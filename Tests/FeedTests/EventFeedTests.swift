import Foundation
import KirokuTestSupport
import KirokuLog
import Testing
@testable import KirokuFeed

@Suite(.timeLimit(.minutes(3))) struct EventFeedTests {
    @Test func catchesUpThenFollowsLive() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            for i in 1...10 { try await log.append(to: "k\(i % 3)", event("E", "\(i)")) }
            var iterator = EventFeed(log: log).makeAsyncIterator()
            for expected in UInt64(1)...10 {
                #expect(try await iterator.next()?.position == expected)
            }
            let appender = Task {
                for i in 11...30 { try await log.append(to: "k\(i % 3)", event("E", "\(i)")) }
            }
            for expected in UInt64(11)...30 {
                #expect(try await iterator.next()?.position == expected)
            }
            try await appender.value
        }
    }

    /// Appends race the switch from catching up to following live: every record exactly once,
    /// in order, whatever the timing.
    @Test(arguments: [1, 7, 256])
    func noGapAndNoDuplicateWhileAppendsRace(batchSize: Int) async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            let total = 3000
            for i in 0..<100 { try await log.append(to: "pre-\(i % 5)", event()) }
            let appenders = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<4 {
                        group.addTask {
                            var i = 0
                            while i < (total - 100) / 4 {
                                let size = min(Int.random(in: 1...5), (total - 100) / 4 - i)
                                try await log.append(to: "t\(task)", (0..<size).map { _ in event() })
                                i += size
                                if Bool.random() { await Task.yield() }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            var expected: UInt64 = 1
            for try await record in EventFeed(log: log, batchSize: batchSize) {
                #expect(record.position == expected)
                guard record.position == expected else { break }
                expected += 1
                if expected > UInt64(total) { break }
            }
            try await appenders.value
            #expect(expected - 1 == UInt64(total))
            #expect(try log.headPosition() == UInt64(total))
        }
    }

    @Test func selectionsFilterByKeyPrefixSetAndType() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            let keys = ["order-1", "order-2", "customer-1", "order-10"]
            for (i, key) in keys.enumerated() {
                try await log.append(to: key, [event("Placed", "\(i)"), event("Shipped", "\(i)")])
            }
            func collect(_ selection: Selection) async throws -> [String] {
                var seen: [String] = []
                for try await batch in EventFeed(log: log, selection: selection, batchSize: 3).batches {
                    seen += batch.records.map { "\($0.key)/\($0.type)" }
                    if batch.throughPosition == 8 { break }
                }
                return seen
            }
            #expect(try await collect(.key("order-2")) == ["order-2/Placed", "order-2/Shipped"])
            #expect(try await collect(.keys(["order-1", "customer-1"]).types(["Shipped"])) == ["order-1/Shipped", "customer-1/Shipped"])
            #expect(Selection.prefix("order-").matches(Record(position: 1, key: "order-x", version: 1, timestamp: Date(), type: "T", payload: Data())))
            #expect(!Selection.prefix("order-").types(["A"]).matches(Record(position: 1, key: "order-x", version: 1, timestamp: Date(), type: "B", payload: Data())))
            #expect(try await collect(Selection(types: ["Placed"])).count == 4)
        }
    }

    @Test func batchesMoveThroughRecordsTheSelectionLeavesOut() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            for _ in 0..<20 { try await log.append(to: "other", event()) }
            try await log.append(to: "mine", event())
            var iterator = EventFeed(log: log, selection: .key("mine"), batchSize: 8).batches.makeAsyncIterator()
            let first = try #require(try await iterator.next())
            #expect(first.records.isEmpty && first.throughPosition == 8)
            _ = try await iterator.next()
            let third = try #require(try await iterator.next())
            #expect(third.records.map(\.key) == ["mine"] && third.throughPosition == 21)
        }
    }

    @Test func startsAtTheEndAPositionOrACheckpoint() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            for _ in 0..<5 { try await log.append(to: "k", event()) }
            var fromEnd = EventFeed(log: log, from: .end).makeAsyncIterator()
            var fromThree = EventFeed(log: log, from: .position(3)).makeAsyncIterator()
            #expect(try await fromThree.next()?.position == 3)
            try await Consumers(log: log).commit("reader", position: 4)
            var fromCheckpoint = EventFeed(log: log, from: .checkpoint("reader")).makeAsyncIterator()
            var fromMissing = EventFeed(log: log, from: .checkpoint("nobody")).makeAsyncIterator()
            #expect(try await fromCheckpoint.next()?.position == 5)
            #expect(try await fromMissing.next()?.position == 1)
            try await log.append(to: "k", event())
            #expect(try await fromEnd.next()?.position == 6)
        }
    }

    @Test func cancellationEndsALiveFeed() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            try await log.append(to: "k", event())
            let reader = Task {
                var count = 0
                for try await _ in EventFeed(log: log) { count += 1 }
                return count
            }
            #expect(try await eventually { try log.headPosition() == 1 })
            try await Task.sleep(for: .milliseconds(50))
            reader.cancel()
            #expect(try await reader.value == 1)
        }
    }

    @Test func aRecordAppendedByAnotherProcessReachesALiveFeed() async throws {
        let helper = try helperExecutable()
        try await withLog(label: "kiroku-feed-test") { log, directory async throws in
            try await log.append(to: "local", event())
            let reader = Task {
                var seen: [String] = []
                for try await record in EventFeed(log: log, selection: .prefix("remote-"), from: .end) {
                    seen.append(record.id ?? "")
                    if seen.count == 40 { break }
                }
                return seen
            }
            try await Task.sleep(for: .milliseconds(100))
            _ = try await run(helper, ["append", directory.sub("store"), "remote", "40"])
            let seen = try await reader.value
            #expect(Set(seen) == Set((0..<40).map { "remote-\($0)" }))
        }
    }
}
