import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuLog

@Suite struct ExpectedVersionTests {
    @Test func eachExpectationIsChecked() async throws {
        try await withLog { log, _ async throws in
            try await log.append(to: "k", event(), expected: .noStream)
            await expectError(.versionConflict) { try await log.append(to: "k", event(), expected: .noStream) }
            try await log.append(to: "k", event(), expected: .streamExists)
            await expectError(.versionConflict) { try await log.append(to: "new", event(), expected: .streamExists) }
            try await log.append(to: "k", event(), expected: .exact(2))
            await expectError(.versionConflict) { try await log.append(to: "k", event(), expected: .exact(2)) }
            await expectError(.versionConflict) { try await log.append(to: "k", event(), expected: .exact(4)) }
            try await log.append(to: "k", event(), expected: .any)
            try await log.append(to: "fresh", event(), expected: .exact(0))
            #expect(try log.currentVersion(of: "k") == 4)
            #expect(try log.headPosition() == 5)
        }
    }

    @Test func conflictNamesExpectedAndActualAndWritesNothing() async throws {
        try await withLog { log, _ async throws in
            try await log.append(to: "order-7", [event(), event(), event()])
            let error = await expectError(.versionConflict) {
                try await log.append(to: "order-7", [event(), event()], expected: .exact(1))
            }
            #expect(error?.key == "order-7")
            #expect(error?.expectedVersion == .exact(1))
            #expect(error?.actualVersion == 3)
            #expect(error?.message.contains("expected 1") == true)
            #expect(error?.message.contains("version 3") == true)
            #expect(try log.headPosition() == 3)
            #expect(try log.verify().isClean)
        }
    }

    @Test func sixtyFourTasksRacingExactVersionsHaveOneWinnerPerVersion() async throws {
        try await withLog { log, _ async throws in
            let rounds = 20
            let winners = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                for task in 0..<64 {
                    group.addTask {
                        var won: [UInt64] = []
                        for _ in 0..<(rounds * 4) {
                            let current = try log.currentVersion(of: "hot") ?? 0
                            if current >= UInt64(rounds) { break }
                            do {
                                let result = try await log.append(to: "hot", event("Won", "\(task)"), expected: .exact(current))
                                won.append(result.version)
                            } catch let error as KirokuError where error.code == .versionConflict {
                                continue
                            }
                        }
                        return won
                    }
                }
                var all: [UInt64] = []
                for try await won in group { all += won }
                return all
            }
            #expect(winners.sorted() == Array(1...UInt64(rounds)))
            #expect(try log.read(key: "hot").map(\.version) == Array(1...UInt64(rounds)))
            #expect(try log.headPosition() == UInt64(rounds))
            #expect(try log.verify().isClean)
        }
    }
}

@Suite struct IdempotencyTests {
    @Test func retryReturnsTheFirstResultAndWritesNothing() async throws {
        try await withLog { log, _ async throws in
            try await log.append(to: "other", event())
            let first = try await log.append(to: "k", [event(id: "a"), event(id: "b")], expected: .noStream)
            // A retry is never a conflict with itself, even with an expectation that now fails.
            let retry = try await log.append(to: "k", [event(id: "a"), event(id: "b")], expected: .noStream)
            #expect(samePlaces(retry, first))
            #expect(try log.headPosition() == 3)
            let again = try await log.append(to: "k", [event(id: "a"), event(id: "b")], expected: .exact(0))
            #expect(samePlaces(again, first))
        }
    }

    @Test func retryWithEventsWithoutIdsIsLocatedByTheIdsItHas() async throws {
        try await withLog { log, _ async throws in
            let first = try await log.append(to: "k", [event("A"), event("B", id: "b"), event("C")])
            let retry = try await log.append(to: "k", [event("A"), event("B", id: "b"), event("C")])
            #expect(samePlaces(retry, first))
            #expect(try log.headPosition() == 3)
        }
    }

    @Test func reusingAnIdForOtherContentIsAnError() async throws {
        try await withLog { log, _ async throws in
            try await log.append(to: "k", [event(id: "a"), event(id: "b", metadata: "m")])
            // Same id, another key, type, payload or metadata (or none where there was some).
            let other = await expectError(.idReused) { try await log.append(to: "elsewhere", event(id: "a")) }
            #expect(other?.position == 1)
            #expect(other?.message.contains("key differs") == true)
            await expectError(.idReused) { try await log.append(to: "k", event("Other", id: "b", metadata: "m")) }
            await expectError(.idReused) { try await log.append(to: "k", event("Tested", "changed", id: "b", metadata: "m")) }
            await expectError(.idReused) { try await log.append(to: "k", event(id: "b", metadata: "n")) }
            await expectError(.idReused) { try await log.append(to: "k", event(id: "b")) }
            // A reused id fails its whole append: the new event beside it is not written either.
            await expectError(.idReused) { try await log.append(to: "k", [event(id: "c"), event(id: "a", metadata: "x")]) }
            // Within one append: the same id twice with other content.
            await expectError(.idReused) { try await log.append(to: "k", [event(id: "d"), event("Tested", "other", id: "d")]) }
            #expect(try log.headPosition() == 2)
            #expect(try log.verify().isClean)
        }
    }

    @Test func identicalRepeatsAreStoredOnceInsideAndAcrossAppends() async throws {
        try await withLog { log, _ async throws in
            try await log.append(to: "k", [event(id: "a"), event(id: "b")])
            // Some events stored (identical), some new: the stored ones are repeats, the new ones appended.
            let mixed = try await log.append(to: "k", [event(id: "a"), event(id: "c")], expected: .exact(2))
            #expect(mixed.events == [StoredEvent(position: 1, version: 1, isRepeat: true), StoredEvent(position: 3, version: 3, isRepeat: false)])
            #expect(mixed.repeats == 1)
            // The same event twice in one append: stored once, both places name it.
            let twice = try await log.append(to: "k", [event(id: "d"), event(id: "e"), event(id: "d")], expected: .exact(3))
            #expect(twice.events.map(\.position) == [4, 5, 4])
            #expect(twice.events.map(\.isRepeat) == [false, false, true])
            #expect(try log.currentVersion(of: "k") == 5)
            // Across groups of one atomic append, and an append of nothing but repeats.
            let groups = try await log.append([
                AppendGroup(key: "k", events: [event(id: "f")]),
                AppendGroup(key: "k", events: [event(id: "f"), event(id: "a")], expected: .exact(0)),
            ])
            #expect(groups[1].events.map(\.isRepeat) == [true, true])
            #expect(groups[1].events.map(\.position) == [6, 1])
            #expect(try log.headPosition() == 6)
            #expect(try log.read(key: "k").compactMap(\.id) == ["a", "b", "c", "d", "e", "f"])
            #expect(try log.verify().isClean)
        }
    }

    @Test func atomicRetryReturnsEveryGroupsResult() async throws {
        try await withLog { log, _ async throws in
            let groups = [
                AppendGroup(key: "a", events: [event(id: "1"), event(id: "2")], expected: .noStream),
                AppendGroup(key: "b", events: [event(id: "3")], expected: .noStream),
            ]
            let first = try await log.append(groups)
            let retry = try await log.append(groups)
            #expect(samePlaces(retry, first))
            #expect(try log.headPosition() == 3)
        }
    }

    @Test func concurrentRetriesOfOneAppendWriteItOnce() async throws {
        try await withLog { log, _ async throws in
            let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
                for _ in 0..<32 {
                    group.addTask { try await log.append(to: "k", [event(id: "x"), event(id: "y")]) }
                }
                var all: [AppendResult] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.allSatisfy { samePlaces($0, results[0]) })
            #expect(results.filter { $0.repeats == 0 }.count == 1, "one append wrote the events, the others repeated it")
            #expect(try log.headPosition() == 2)
        }
    }
}

@Suite struct AtomicAppendTests {
    @Test func allGroupsCommitTogetherAtConsecutivePositions() async throws {
        try await withLog { log, _ async throws in
            try await log.append(to: "b", event())
            let results = try await log.append([
                AppendGroup(key: "a", events: [event(), event()], expected: .noStream),
                AppendGroup(key: "b", events: [event()], expected: .exact(1)),
                AppendGroup(key: "a", events: [event()], expected: .exact(2)),
            ])
            #expect(results.map(\.key) == ["a", "b", "a"])
            #expect(results.map(\.positions) == [2...3, 4...4, 5...5])
            #expect(results.map(\.versions) == [1...2, 2...2, 3...3])
            #expect(try log.verify().isClean)
        }
    }

    @Test func oneFailingGroupFailsAllAndWritesNothing() async throws {
        try await withLog { log, _ async throws in
            try await log.append(to: "b", event())
            let error = await expectError(.versionConflict) {
                try await log.append([
                    AppendGroup(key: "a", events: [event(id: "new")], expected: .noStream),
                    AppendGroup(key: "b", events: [event()], expected: .noStream),
                ])
            }
            #expect(error?.key == "b")
            #expect(try log.headPosition() == 1)
            #expect(try log.currentVersion(of: "a") == nil)
            // The id of the failed append was not stored either.
            #expect(try await log.append(to: "a", event(id: "new")).position == 2)
        }
    }

    @Test func aFailingRequestDoesNotFailOthersInItsBatch() async throws {
        try await withLog { log, _ async throws in
            // Many concurrent appends share batches; every other one conflicts.
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for i in 0..<200 {
                    group.addTask {
                        do {
                            try await log.append(to: "k\(i)", event(), expected: i.isMultiple(of: 2) ? .noStream : .streamExists)
                            return (i, true)
                        } catch {
                            return (i, false)
                        }
                    }
                }
                var all: [Int: Bool] = [:]
                for await (i, ok) in group { all[i] = ok }
                return all
            }
            for (i, ok) in outcomes { #expect(ok == i.isMultiple(of: 2), "append \(i)") }
            #expect(try log.headPosition() == 100)
            #expect(try log.verify().isClean)
        }
    }
}
