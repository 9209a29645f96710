import Foundation
import KirokuLog
import KirokuTestSupport
import KirokuWriteModel
import Testing

/// A counter and a cart, the write models of the tests.
enum CounterEvent: DomainEvent, Equatable {
    case added(Int, by: String)
    var eventType: String { "Added" }
}

struct Counter: Codable, Sendable, Equatable {
    var total = 0
    var commands: [String] = []
    static func evolve(_ state: inout Counter, _ event: CounterEvent) {
        switch event {
        case .added(let amount, let by):
            state.total += amount
            state.commands.append(by)
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct DecideTests {
    @Test func sixtyFourConcurrentCommandsOnOneKeyEachLandOnce() async throws {
        try await withLog(label: "kiroku-decide") { log, _ in
            let attempts = await withTaskGroup(of: Int.self) { group in
                for task in 0..<64 {
                    group.addTask {
                        let decision = try? await log.decide(key: "counter", initial: Counter(), commandId: "command-\(task)", maxAttempts: 200,
                                                             evolve: Counter.evolve) { _ in [.added(1, by: "command-\(task)")] }
                        return decision?.attempts ?? -1000
                    }
                }
                var all: [Int] = []
                for await attempt in group { all.append(attempt) }
                return all
            }
            #expect(attempts.allSatisfy { $0 >= 1 }, "\(attempts)")
            #expect(attempts.reduce(0, +) > 64, "64 racing tasks must conflict: \(attempts.reduce(0, +)) attempts")
            let history = try log.read(key: "counter")
            #expect(history.map(\.version) == Array(1...64))
            #expect(Set(history.compactMap(\.id)).count == 64)
            // A retried command (after a timeout, say) is not decided again.
            let retry = try await log.decide(key: "counter", initial: Counter(), commandId: "command-7", evolve: Counter.evolve) { _ in
                [.added(1, by: "command-7 again")]
            }
            #expect(retry.isRepeat && retry.events.isEmpty && retry.state.total == 64 && retry.version == 64)
            #expect(Set(retry.state.commands).count == 64)
            // A decision to do nothing appends nothing; a rule that throws appends nothing.
            let none = try await log.decide(key: "counter", initial: Counter(), evolve: Counter.evolve) { _ in [] }
            #expect(none.events.isEmpty && none.version == 64)
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                _ = try await log.decide(key: "counter", initial: Counter(), evolve: Counter.evolve) { _ in throw Refused() }
            }
            #expect(try log.currentVersion(of: "counter") == 64)
        }
    }

    @Test func givingUpNamesTheAttempts() async throws {
        try await withLog(label: "kiroku-decide-give-up") { log, _ in
            // Sixteen deciders load version 0 before the first commit lands (a commit waits for
            // its fsync); with one attempt each, all but the winner give up.
            let messages = await withTaskGroup(of: String?.self) { group in
                for task in 0..<16 {
                    group.addTask {
                        do {
                            _ = try await log.decide(key: "busy", initial: Counter(), maxAttempts: 1, evolve: Counter.evolve) { _ in [.added(1, by: "t\(task)")] }
                            return nil
                        } catch let error as KirokuError where error.code == .versionConflict {
                            return error.message
                        } catch {
                            return "unexpected: \(error)"
                        }
                    }
                }
                var all: [String] = []
                for await message in group { if let message { all.append(message) } }
                return all
            }
            #expect(!messages.isEmpty, "sixteen racing deciders with one attempt each: none gave up")
            #expect(messages.allSatisfy { $0.contains("gave up after 1 attempts") }, "\(messages)")
            let version = try log.currentVersion(of: "busy")
            #expect(version == UInt64(16 - messages.count))
        }
    }

    @Test func aSnapshotGivesTheSameStateAsFoldingTheWholeHistory() async throws {
        try await withLog(label: "kiroku-decide-snapshot") { log, _ in
            // 100,000 events, in batches of one payload encoded once (the test's CPU goes to the fold).
            let bulk = try EventData.json(CounterEvent.added(1, by: "bulk"), type: "Added")
            for _ in 0..<100 { try await log.append(to: "long", Array(repeating: bulk, count: 1000)) }
            // The first decision folds the whole history (no snapshot yet) and takes one.
            let folded = try await log.decide(key: "long", initial: Counter(), snapshots: .every(1), evolve: Counter.evolve) { _ in [.added(5, by: "first")] }
            #expect(!folded.fromSnapshot && folded.version == 100_001)
            #expect(folded.state.total == 100_005 && folded.state.commands.count == 100_001 && folded.state.commands.last == "first")
            #expect(try await Snapshots(log: log).version(of: "long") == 100_001)
            // The next starts from it, and ends where folding everything would: the fold above
            // plus this event (the brute-force state).
            let fromSnapshot = try await log.decide(key: "long", initial: Counter(), snapshots: .every(1), evolve: Counter.evolve) { _ in [.added(1, by: "after")] }
            var expected = folded.state
            Counter.evolve(&expected, .added(1, by: "after"))
            #expect(fromSnapshot.fromSnapshot && fromSnapshot.version == 100_002 && fromSnapshot.state == expected)
        }
    }

    @Test func anotherSchemaOrADeletionMakesTheSnapshotIgnored() async throws {
        try await withLog(label: "kiroku-decide-schema") { log, _ in
            for i in 0..<10 { _ = try await log.decide(key: "k", initial: Counter(), snapshots: .every(4), evolve: Counter.evolve) { _ in [.added(1, by: "c\(i)")] } }
            #expect(try await Snapshots(log: log).version(of: "k") == 8)
            let same = try await log.decide(key: "k", initial: Counter(), snapshots: .every(4), evolve: Counter.evolve) { _ in [] }
            #expect(same.fromSnapshot && same.state.total == 10)
            // A changed schema ignores the old snapshot (and takes its own).
            let changed = try await log.decide(key: "k", initial: Counter(), snapshots: .every(1, schema: 2), evolve: Counter.evolve) { _ in [.added(1, by: "v2")] }
            #expect(!changed.fromSnapshot && changed.state.total == 11)
            #expect(try await Snapshots(log: log).version(of: "k") == 11)
            // A key deleted after its snapshot starts from the initial state.
            try await log.delete(key: "k")
            let restarted = try await log.decide(key: "k", initial: Counter(), snapshots: .every(1, schema: 2), evolve: Counter.evolve) { _ in [.added(2, by: "new life")] }
            #expect(!restarted.fromSnapshot && restarted.state == Counter(total: 2, commands: ["new life"]))
            #expect(restarted.version == 13)
            // Dropping a snapshot changes nothing but the time a decision takes.
            try await Snapshots(log: log).drop(key: "k")
            let dropped = try await log.decide(key: "k", initial: Counter(), snapshots: .every(1, schema: 2), evolve: Counter.evolve) { _ in [] }
            #expect(!dropped.fromSnapshot && dropped.state == restarted.state)
        }
    }

    @Test func anErasedEventCannotBeFoldedAndSaysWhich() async throws {
        try await withLog(label: "kiroku-decide-erased") { log, _ in
            _ = try await log.decide(key: "device", initial: Counter(), evolve: Counter.evolve) { _ in [.added(1, by: "a")] }
            try await Task.sleep(for: .milliseconds(20))
            try await log.setRetention([.maxAge(.milliseconds(10), types: ["Added"])])
            _ = try await log.append(to: "other", event())
            try await log.enforceRetention()
            let error = await expectError(.payloadDecoding) {
                _ = try await log.decide(key: "device", initial: Counter(), evolve: Counter.evolve) { _ in [] }
            }
            #expect(error?.message.contains("is erased") == true, "\(error?.message ?? "")")
        }
    }
}
