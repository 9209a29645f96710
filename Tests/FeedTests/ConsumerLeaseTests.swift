import Foundation
import KirokuLog
import KirokuTestSupport
import Testing
@testable import KirokuFeed

/// The consumer lease's rules, with two holders in one process (each `ConsumerLease` is a holder
/// of its own, as a process is); `LeaseCLITests` runs them across real processes.
@Suite(.timeLimit(.minutes(3))) struct ConsumerLeaseTests {
    @Test func oneHolderAtATimeTakeoverAfterExpiryAndFencedCheckpoints() async throws {
        try await withLog(label: "kiroku-lease") { log, _ async throws in
            // Long enough that a loaded machine does not let it expire between two lines.
            let first = try await ConsumerLease(log: log, consumer: "audit", ttl: .seconds(4))
            let second = try await ConsumerLease(log: log, consumer: "audit", ttl: .seconds(4))
            try await first.acquire()
            try await first.acquire()  // already its own: taken again at once
            let busy = await expectError(.consumerBusy) { try await second.acquire(wait: false) }
            #expect(busy?.message.contains(first.holder) == true)
            #expect(try await ConsumerLease.holder(of: "audit", in: log)?.holder == first.holder)
            let consumers = try await Consumers(log: log)
            try await consumers.commit("audit", position: 5, lease: first)
            try await first.renew()
            try await consumers.commit("audit", position: 6, lease: first)  // after a renewal too

            // The first holder stops renewing (a pause, a death): the second takes over once it
            // expires, and the first can neither renew nor commit.
            let start = ContinuousClock.now
            try await second.acquire()
            // Not before the lease ran out (renewed just before the last commit).
            #expect(ContinuousClock.now - start >= .seconds(2))
            await expectError(.leaseLost) { try await first.renew() }
            let fenced = await expectError(.leaseLost) { try await consumers.commit("audit", position: 99, lease: first) }
            #expect(fenced?.message.contains(second.holder) == true)
            #expect(try consumers.checkpoint(of: "audit") == 6)
            try await consumers.commit("audit", position: 7, lease: second)

            // Releasing hands over at once.
            await second.release()
            try await first.acquire(wait: false)
            #expect(try await ConsumerLease.holder(of: "audit", in: log)?.holder == first.holder)
            await expectError(.invalidProcessorOption) { _ = try await ConsumerLease(log: log, consumer: "audit", ttl: .milliseconds(10)) }
        }
    }

    @Test func aProcessorWaitsForTheLeaseOrIsRefused() async throws {
        try await withLog(label: "kiroku-lease") { log, _ async throws in
            for i in 0..<20 { try await log.append(to: "k\(i % 3)", event()) }
            let other = try await ConsumerLease(log: log, consumer: "audit", ttl: .seconds(30))
            try await other.acquire()
            var configuration = KeyedProcessor.Configuration()
            configuration.waitForLease = false
            let refused = KeyedProcessor(log: log, consumer: "audit", configuration: configuration) { _ in }
            await expectError(.consumerBusy) { try await refused.run() }

            // A waiting processor handles nothing until the lease is released, then everything.
            let handled = Locked(0)
            configuration.waitForLease = true
            configuration.checkpointInterval = .milliseconds(20)
            let waiting = KeyedProcessor(log: log, consumer: "audit", configuration: configuration) { _ in handled.withLock { $0 += 1 } }
            let running = Task { try await waiting.run() }
            try await Task.sleep(for: .milliseconds(200))
            #expect(handled.withLock { $0 } == 0)
            await other.release()
            #expect(await eventually(timeout: .seconds(60)) { handled.withLock { $0 } == 20 })
            #expect(try await ConsumerLease.holder(of: "audit", in: log)?.holder.hasPrefix("\(ProcessInfo.processInfo.processIdentifier)@") == true)
            waiting.stop()
            try await running.value
            // Stopped: the lease is released.
            #expect(try await ConsumerLease.holder(of: "audit", in: log) == nil)

            // A processor stopped while it waits for the lease ends at once.
            try await other.acquire()
            let stopped = KeyedProcessor(log: log, consumer: "audit", configuration: configuration) { _ in }
            let stopping = Task { try await stopped.run() }
            try await Task.sleep(for: .milliseconds(50))
            stopped.stop()
            try await stopping.value
        }
    }
}
