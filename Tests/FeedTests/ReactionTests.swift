import Foundation
import KirokuLog
import KirokuTestSupport
import Testing
@testable import KirokuFeed

/// Reactions: a processor's handler returns events to append, and each exists exactly once.
@Suite(.timeLimit(.minutes(10))) struct ReactionTests {
    /// The log's orders, and its reaction events by source position and index; ids found twice.
    static func reactions(in log: EventLog) throws -> (orders: Set<UInt64>, reactions: [UInt64: [Int: Record]], duplicates: [String]) {
        var orders = Set<UInt64>()
        var reactions: [UInt64: [Int: Record]] = [:]
        var duplicates: [String] = []
        var position: UInt64 = 1
        while true {
            let page = try log.readAll(from: position, limit: 2000)
            guard let last = page.last else { break }
            for record in page {
                if record.key.hasPrefix("order-") { orders.insert(record.position) }
                guard let id = record.id, let source = KeyedProcessor.reactionSource(ofEventId: id) else { continue }
                #expect(source.consumer == ReactionWorkload.consumer)
                if reactions[source.position, default: [:]].updateValue(record, forKey: source.index) != nil { duplicates.append(id) }
            }
            position = last.position + 1
        }
        return (orders, reactions, duplicates)
    }

    /// Checks the log: every order has its two reaction events (invoice then ledger, both
    /// naming it), exactly once; nothing else carries the consumer's reaction ids.
    static func expectEachOrderReactedToOnce(_ log: EventLog, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (orders, reactions, duplicates) = try Self.reactions(in: log)
        #expect(duplicates.isEmpty, "reactions made twice: \(duplicates.prefix(5))", sourceLocation: sourceLocation)
        #expect(Set(reactions.keys) == orders, "orders without a reaction: \(orders.subtracting(reactions.keys).sorted().prefix(5)); reactions to no order: \(Set(reactions.keys).subtracting(orders).sorted().prefix(5))", sourceLocation: sourceLocation)
        for (order, events) in reactions {
            #expect(events.keys.sorted() == [0, 1], "order \(order): \(events.keys.sorted())", sourceLocation: sourceLocation)
            #expect(events[0]?.type == "InvoiceDue" && events[1]?.type == "Ledger", sourceLocation: sourceLocation)
            // One reaction's two events: one commit, the same nonce.
            #expect(events[0]?.payload == events[1]?.payload, sourceLocation: sourceLocation)
            #expect(events[0].map { String(decoding: $0.payload, as: UTF8.self).contains(#""order":\#(order),"#) } == true, sourceLocation: sourceLocation)
        }
    }

    /// Runs the workload's processor in this process until its checkpoint passes `position`.
    static func finish(_ log: EventLog, through position: UInt64) async throws {
        var configuration = KeyedProcessor.Configuration()
        configuration.checkpointInterval = .milliseconds(20)
        let processor = KeyedProcessor.reacting(log: log, consumer: ReactionWorkload.consumer, selection: .prefix("order-"),
                                       configuration: configuration) { record in ReactionWorkload.react(to: record) }
        let running = Task { try await processor.run() }
        let done = try await eventually(timeout: .seconds(120)) {
            try await (Consumers(log: log).checkpoint(of: ReactionWorkload.consumer) ?? 0) >= position
        }
        processor.stop()
        try await running.value
        #expect(done, "the processor did not reach position \(position)")
    }

    @Test func eachRecordGetsItsReactionOnceAndFailuresAreDeadLettered() async throws {
        try await withLog(label: "kiroku-reactions") { log, _ async throws in
            for i in 0..<300 { try await log.append(to: ReactionWorkload.orderKeys[i % 40], event("OrderPlaced", "\(i)")) }
            let head = try log.headPosition()
            try await Self.finish(log, through: head)
            try Self.expectEachOrderReactedToOnce(log)
            // Each reaction is one commit: its two events sit at consecutive positions.
            let first = try #require(try log.position(ofEventId: KeyedProcessor.reactionId(consumer: ReactionWorkload.consumer, position: 1, index: 0)))
            #expect(try log.record(at: first + 1)?.id == KeyedProcessor.reactionId(consumer: ReactionWorkload.consumer, position: 1, index: 1))
            // Run again from an older checkpoint, as after a crash: nothing is reacted to twice.
            try await Consumers(log: log).commit(ReactionWorkload.consumer, position: 0)
            try await Self.finish(log, through: head)
            try Self.expectEachOrderReactedToOnce(log)
            // Not handled again at all: a second reaction (another nonce) would be id-reused.
            #expect(try await DeadLetters(log: log).list(consumer: ReactionWorkload.consumer).isEmpty)
            #expect(KeyedProcessor.reactionSource(ofEventId: "a@b@12/3").map { "\($0.consumer) \($0.position) \($0.index)" } == "a@b 12 3")
            #expect(KeyedProcessor.reactionSource(ofEventId: "import:1:ff") == nil)

            // A reaction that cannot be appended fails its attempts and is dead-lettered; one
            // with no groups appends nothing.
            var configuration = KeyedProcessor.Configuration()
            configuration.maxAttempts = 2
            configuration.initialBackoff = .milliseconds(1)
            let before = try log.headPosition()
            try await log.append(to: "task-1", event("Task", "conflicts"))
            try await log.append(to: "task-2", event("Task", "nothing"))
            let tasks = KeyedProcessor.reacting(log: log, consumer: "tasks", selection: .prefix("task-"), configuration: configuration) { record in
                record.key == "task-1" ? [AppendGroup(key: "done", events: [event("Done")], expected: .exact(99))] : []
            }
            let running = Task { try await tasks.run() }
            let dead = try await eventually(timeout: .seconds(60)) { try await DeadLetters(log: log).list(consumer: "tasks").count == 1 }
            tasks.stop()
            try await running.value
            #expect(dead)
            let letter = try #require(try await DeadLetters(log: log).list(consumer: "tasks").first)
            #expect(letter.key == "task-1" && letter.error.contains("version-conflict") || letter.error.contains("expected"), "\(letter.error)")
            #expect(try log.headPosition() == before + 2)
        }
    }

    /// The crash campaign for reactions: a worker process reacts to orders while this one
    /// appends more, and is killed with SIGKILL at random moments; after each kill and at the
    /// end every order has its reaction exactly once. `KIROKU_REACTION_KILLS` sets the count.
    @Test func killedAtRandomEveryReactionExistsExactlyOnce() async throws {
        let kills = ProcessInfo.processInfo.environment["KIROKU_REACTION_KILLS"].flatMap(Int.init) ?? 8
        let seed = SeededGenerator.seed(label: "reaction crash campaign")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory("kiroku-reaction-crash")
        defer { directory.remove() }
        let store = directory.sub("store")
        let log = try EventLog(path: store)
        defer { log.close() }
        var orders = 0
        /// A burst of orders in one commit: a backlog the worker is in the middle of when killed.
        func appendOrders(_ count: Int) async throws -> UInt64 {
            let groups = (0..<count).map { i in AppendGroup(key: ReactionWorkload.orderKeys[(orders + i) % 40], events: [event("OrderPlaced", "\(orders + i)")]) }
            orders += count
            return try await log.append(groups)[0].position
        }
        var reactedAtKill: [UInt64] = []
        for _ in 0..<kills {
            let first = try await appendOrders(Int.random(in: 100...400, using: &random))
            let worker = Process()
            worker.executableURL = try helperExecutable()
            worker.arguments = ["react", store]
            let errors = directory.sub("worker.err")
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            worker.standardError = FileHandle(forWritingAtPath: errors)
            worker.standardOutput = FileHandle.nullDevice
            try worker.run()
            // Killed once it reacts to the burst, at a random moment of its work on it.
            let firstReaction = KeyedProcessor.reactionId(consumer: ReactionWorkload.consumer, position: first, index: 0)
            let started = try await eventually(timeout: .seconds(60)) { try log.position(ofEventId: firstReaction) != nil }
            #expect(started, "seed \(seed): the worker did not react to position \(first) (running: \(worker.isRunning)); its errors: \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...250, using: &random)))
            kill(worker.processIdentifier, SIGKILL)
            worker.waitUntilExit()
            reactedAtKill.append(try log.headPosition())
            try Self.expectEachOrderReactedToOnceSoFar(log, seed: seed)
        }
        let lastOrder = try log.headPosition()
        try await Self.finish(log, through: lastOrder)
        try Self.expectEachOrderReactedToOnce(log)
        #expect(try await DeadLetters(log: log).list(consumer: ReactionWorkload.consumer).isEmpty, "seed \(seed)")
        #expect(try log.verify().isClean)
        print("reaction crash campaign: \(kills) kills, \(orders) orders, heads at the kills \(reactedAtKill), seed \(seed)")
    }

    /// After a kill: no order has more than one reaction, and each reaction is whole.
    static func expectEachOrderReactedToOnceSoFar(_ log: EventLog, seed: UInt64) throws {
        let (_, reactions, duplicates) = try Self.reactions(in: log)
        #expect(duplicates.isEmpty, "seed \(seed): \(duplicates.prefix(5)) twice")
        #expect(reactions.values.allSatisfy { Set($0.keys) == [0, 1] }, "seed \(seed): a reaction was cut in half")
    }
}
