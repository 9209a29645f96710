import Foundation
import KirokuTestSupport
import KirokuLog
import ServiceLifecycle
import Testing
@testable import KirokuFeed

struct Poison: Error, CustomStringConvertible {
    var description: String { "poison record" }
}

@Suite(.timeLimit(.minutes(5))) struct KeyedProcessorTests {
    /// 64 lanes, random handler delays: each key's versions arrive strictly increasing, nothing
    /// lost, nothing duplicated.
    @Test func perKeyOrderHoldsAcrossSixtyFourLanes() async throws {
        let seed = SeededGenerator.seed(label: "perKeyOrderHoldsAcrossSixtyFourLanes")
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            let total = 100_000
            let keys = 1000
            var random = SeededGenerator(seed: seed)
            var appended = 0
            while appended < total {
                let groups = (0..<50).map { _ in
                    AppendGroup(key: "k\(Int.random(in: 0..<keys, using: &random))", events: [event()])
                }
                try await log.append(groups)
                appended += groups.count
            }
            let seen = Recorder<(String, UInt64)>()
            var configuration = KeyedProcessor.Configuration()
            configuration.lanes = 64
            let processor = KeyedProcessor(log: log, consumer: "order", configuration: configuration) { record in
                if record.position % 97 == 0 { try await Task.sleep(for: .microseconds(Int.random(in: 0...500))) }
                if record.position % 5 == 0 { await Task.yield() }
                seen.append((record.key, record.version))
            }
            let running = Task { try await processor.run() }
            #expect(await eventually(timeout: .seconds(120)) { seen.count >= total }, "seed \(seed)")
            processor.stop()
            try await running.value
            var last: [String: UInt64] = [:]
            for (key, version) in seen.all {
                #expect(version == (last[key] ?? 0) + 1, "seed \(seed): \(key) v\(version) after v\(last[key] ?? 0)")
                last[key] = version
            }
            #expect(seen.count == total)
            #expect(try await Consumers(log: log).checkpoint(of: "order") == UInt64(total))
        }
    }

    /// Cancel mid-flight, start again: every record at least once, nothing at or before the
    /// committed checkpoint twice.
    @Test func aRestartRedeliversOnlyWhatWasInFlight() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            let total = 5000
            for i in 0..<(total / 100) {
                try await log.append((0..<100).map { AppendGroup(key: "k\(($0 + i) % 37)", events: [event()]) })
            }
            let firstRun = Recorder<UInt64>()
            var configuration = KeyedProcessor.Configuration()
            configuration.lanes = 8
            configuration.checkpointInterval = .milliseconds(10)
            let first = KeyedProcessor(log: log, consumer: "restart", configuration: configuration) { record in
                if record.position % 50 == 0 { try await Task.sleep(for: .milliseconds(2)) }
                firstRun.append(record.position)
            }
            let running = Task { try await first.run() }
            #expect(await eventually { firstRun.count >= total / 2 })
            running.cancel()
            try await running.value
            let checkpoint = try #require(try await Consumers(log: log).checkpoint(of: "restart"))
            #expect(checkpoint > 0 && checkpoint < UInt64(total))
            // Everything at or below the checkpoint was handled in the first run.
            let handled = Set(firstRun.all)
            #expect((1...checkpoint).allSatisfy { handled.contains($0) })

            let secondRun = Recorder<UInt64>()
            let second = KeyedProcessor(log: log, consumer: "restart", configuration: configuration) { record in
                secondRun.append(record.position)
            }
            let again = Task { try await second.run() }
            #expect(await eventually { Set(firstRun.all).union(secondRun.all).count == total })
            second.stop()
            try await again.value
            #expect(secondRun.all.allSatisfy { $0 > checkpoint }, "nothing at or before the checkpoint twice")
            #expect(Set(firstRun.all).union(secondRun.all) == Set(1...UInt64(total)))
            let inFlightAgain = Set(secondRun.all).intersection(handled)
            #expect(inFlightAgain.count <= (configuration.lanes * (configuration.laneCapacity + 1) + 1) * configuration.batchSize)
        }
    }

    @Test func aPoisonRecordIsDeadLetteredAndOtherKeysKeepFlowing() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            try await log.append(to: "bad", event("T", "poison"))
            for i in 0..<50 { try await log.append(to: "good-\(i % 5)", event()) }
            try await log.append(to: "bad", event("T", "fine"))
            let attempts = Recorder<UInt64>()
            let handled = Recorder<UInt64>()
            var configuration = KeyedProcessor.Configuration()
            configuration.initialBackoff = .milliseconds(1)
            configuration.maxBackoff = .milliseconds(4)
            configuration.checkpointInterval = .milliseconds(20)
            let processor = KeyedProcessor(log: log, consumer: "indexer", configuration: configuration) { record in
                attempts.append(record.position)
                if record.payload == Data("poison".utf8) { throw Poison() }
                handled.append(record.position)
            }
            let running = Task { try await processor.run() }
            #expect(await eventually { handled.count == 51 })
            #expect(attempts.all.filter { $0 == 1 }.count == 4)
            let letters = try await DeadLetters(log: log).list(consumer: "indexer")
            #expect(letters.count == 1)
            let letter = try #require(letters.first)
            #expect(letter.position == 1 && letter.key == "bad" && letter.attempts == 4 && letter.state == .failed)
            #expect(letter.error.contains("poison record"))
            #expect(!letter.holdsKey)
            // `continue`: the key's later record was handled.
            #expect(handled.all.contains(52))
            #expect(await eventually { (try? await Consumers(log: log).checkpoint(of: "indexer")) == 52 })
            processor.stop()
            try await running.value
        }
    }

    @Test func holdKeyParksTheKeyUntilItsDeadLetterIsRetried() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            try await log.append(to: "held", event("T", "poison"))
            try await log.append(to: "held", event("T", "second"))
            try await log.append(to: "free", event("T", "other"))
            try await log.append(to: "held", event("T", "third"))
            let poisoned = Locked(true)
            let handled = Recorder<String>()
            var configuration = KeyedProcessor.Configuration()
            configuration.keyPolicy = .holdKey
            configuration.maxAttempts = 2
            configuration.initialBackoff = .milliseconds(1)
            configuration.checkpointInterval = .milliseconds(20)
            let processor = KeyedProcessor(log: log, consumer: "strict", configuration: configuration) { record in
                if record.payload == Data("poison".utf8), poisoned.withLock({ $0 }) { throw Poison() }
                handled.append(String(decoding: record.payload, as: UTF8.self))
            }
            let running = Task { try await processor.run() }
            let deadLetters = try await DeadLetters(log: log)
            #expect(await eventually { (try? deadLetters.list(consumer: "strict").count) == 3 })
            #expect(handled.all == ["other"], "other keys never wait")
            let letters = try deadLetters.list(consumer: "strict")
            #expect(letters.map(\.state) == [.failed, .held, .held])
            #expect(letters[0].holdsKey)
            // A new record of the held key waits too.
            try await log.append(to: "held", event("T", "fourth"))
            #expect(await eventually { (try? deadLetters.list(consumer: "strict").count) == 4 })
            await expectError(.deadLetterNotFound) { try await deadLetters.retry(consumer: "strict", position: 2) }

            // Fix the cause, retry: the key resumes in order.
            poisoned.withLock { $0 = false }
            try await processor.retryDeadLetter(at: 1)
            #expect(await eventually { handled.count == 5 })
            #expect(handled.all == ["other", "poison", "second", "third", "fourth"])
            #expect(await eventually { (try? deadLetters.list(consumer: "strict").isEmpty) == true })
            processor.stop()
            try await running.value
        }
    }

    @Test func skippingAHoldingDeadLetterReleasesItsKey() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            try await log.append(to: "held", event("T", "poison"))
            try await log.append(to: "held", event("T", "after"))
            let handled = Recorder<String>()
            var configuration = KeyedProcessor.Configuration()
            configuration.keyPolicy = .holdKey
            configuration.maxAttempts = 1
            configuration.checkpointInterval = .milliseconds(20)
            let processor = KeyedProcessor(log: log, consumer: "skipper", configuration: configuration) { record in
                if record.payload == Data("poison".utf8) { throw Poison() }
                handled.append(String(decoding: record.payload, as: UTF8.self))
            }
            let running = Task { try await processor.run() }
            let deadLetters = try await DeadLetters(log: log)
            #expect(await eventually { (try? deadLetters.list(consumer: "skipper").count) == 2 })
            // Skipped through the store (as the CLI does), not the processor: it notices.
            try await deadLetters.skip(consumer: "skipper", position: 1)
            #expect(await eventually { handled.all == ["after"] })
            #expect(await eventually { (try? deadLetters.list(consumer: "skipper").isEmpty) == true })
            processor.stop()
            try await running.value
            await expectError(.deadLetterNotFound) { try await deadLetters.skip(consumer: "skipper", position: 1) }
        }
    }

    @Test func purgeRemovesEveryDeadLetterOfAConsumer() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            for i in 0..<3 { try await log.append(to: "k\(i)", event()) }
            var configuration = KeyedProcessor.Configuration()
            configuration.maxAttempts = 1
            let processor = KeyedProcessor(log: log, consumer: "purged", configuration: configuration) { _ in throw Poison() }
            let running = Task { try await processor.run() }
            let deadLetters = try await DeadLetters(log: log)
            #expect(await eventually { (try? deadLetters.list(consumer: "purged").count) == 3 })
            processor.stop()
            try await running.value
            #expect(try await deadLetters.purge(consumer: "purged") == 3)
            #expect(try deadLetters.list(consumer: "purged").isEmpty)
        }
    }

    /// A handler that sleeps while a million records are appended: the processor holds a
    /// bounded number of them, never the backlog.
    @Test func aSlowHandlerKeepsMemoryBounded() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            var configuration = KeyedProcessor.Configuration()
            configuration.lanes = 4
            configuration.laneCapacity = 2
            configuration.batchSize = 64
            let processor = KeyedProcessor(log: log, consumer: "slow", configuration: configuration) { _ in
                try await Task.sleep(for: .milliseconds(20))
            }
            let running = Task { try await processor.run() }
            let payload = Data(count: 16)
            for batch in 0..<1000 {
                try await log.append(to: "k\(batch % 10)", (0..<1000).map { _ in EventData(type: "T", payload: payload) })
            }
            #expect(try log.headPosition() == 1_000_000)
            let bound = (configuration.lanes * (configuration.laneCapacity + 2) + 1) * configuration.batchSize
            #expect(processor.inFlight.peak <= bound, "peak \(processor.inFlight.peak), bound \(bound)")
            processor.stop()
            try await running.value
        }
    }

    @Test func gracefulShutdownThroughServiceLifecycleCommitsTheCheckpoint() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            for i in 0..<200 { try await log.append(to: "k\(i % 9)", event()) }
            let handled = Recorder<UInt64>()
            var configuration = KeyedProcessor.Configuration()
            configuration.checkpointInterval = .seconds(3600)
            let processor = KeyedProcessor(log: log, consumer: "service", configuration: configuration) { record in
                handled.append(record.position)
            }
            let group = ServiceGroup(services: [processor], gracefulShutdownSignals: [], cancellationSignals: [],
                                     logger: .init(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let running = Task { try await group.run() }
            #expect(await eventually { handled.count == 200 })
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(try await Consumers(log: log).checkpoint(of: "service") == 200)
        }
    }

    @Test func oneProcessorPerConsumerAndValidOptions() async throws {
        try await withLog(label: "kiroku-feed-test") { log, _ async throws in
            let first = KeyedProcessor(log: log, consumer: "only") { _ in }
            let running = Task { try await first.run() }
            // 60 s: started with the whole suite, trivial tests take 10-17 s (docs/RELIABILITY.md).
            #expect(await eventually(timeout: .seconds(60)) { (try? await Consumers(log: log).checkpoint(of: "only")) != nil })
            let second = KeyedProcessor(log: log, consumer: "only") { _ in }
            await expectError(.consumerBusy) { try await second.run() }
            first.stop()
            try await running.value
            var bad = KeyedProcessor.Configuration()
            bad.lanes = 0
            await expectError(.invalidProcessorOption) { try await KeyedProcessor(log: log, consumer: "x", configuration: bad) { _ in }.run() }
            await expectError(.invalidConsumerName) { try await KeyedProcessor(log: log, consumer: "") { _ in }.run() }
        }
    }
}

import Logging
