import Foundation
import KirokuLog
import KirokuTestSupport
import Testing

/// One owner per consumer across processes, with real `kiroku tail --consumer` processes.
@Suite(.timeLimit(.minutes(3))) struct LeaseCLITests {
    /// A `kiroku tail` whose standard output is collected as it arrives.
    final class Tail: Sendable {
        let process = Process()
        let printed = Locked("")
        init(store: String, errors: String, from: String? = nil) throws {
            process.executableURL = try helperExecutable("kiroku")
            process.arguments = ["tail", store, "--json", "--consumer", "audit", "--lease-seconds", "1"] + (from.map { ["--from", $0] } ?? [])
            let output = Pipe()
            process.standardOutput = output
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: errors)
            output.fileHandleForReading.readabilityHandler = { [printed] handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil } else { printed.withLock { $0 += String(decoding: data, as: UTF8.self) } }
            }
            try process.run()
        }
        var positions: [Int] {
            printed.withLock { $0 }.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["position"] as? Int
            }
        }
    }

    @Test func twoTailsOfOneConsumerDeliverOnceAndTheSecondTakesOverFromAKilledFirst() async throws {
        let directory = TemporaryDirectory("kiroku-lease-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        let log = try EventLog(path: store)
        defer { log.close() }
        for i in 1...5 { try await log.append(to: "k\(i % 2)", event("T", "\(i)")) }
        let first = try Tail(store: store, errors: directory.sub("first.err"), from: "1")
        defer { if first.process.isRunning { kill(first.process.processIdentifier, SIGKILL) } }
        #expect(await eventually(timeout: .seconds(60)) { first.positions.count == 5 })
        let second = try Tail(store: store, errors: directory.sub("second.err"))
        defer { if second.process.isRunning { second.process.terminate() } }
        for i in 6...50 { try await log.append(to: "k\(i % 2)", event("T", "\(i)")) }
        #expect(await eventually(timeout: .seconds(60)) { first.positions.count == 50 })
        try await Task.sleep(for: .milliseconds(500))
        // Between them, every record once: the second (which resumes from the consumer's
        // checkpoint once it holds the lease) waits.
        #expect(first.positions == Array(1...50))
        #expect(second.positions.isEmpty && second.process.isRunning)
        let consumers = try jsonLines(try await kiroku(["consumers", store, "--json"]).out)
        #expect((consumers.first?["holder"] as? String)?.hasPrefix("\(first.process.processIdentifier)@") == true, "\(consumers)")
        let refused = try await kiroku(["tail", store, "--consumer", "audit", "--no-wait"])
        #expect(refused.status == 2 && refused.err.contains("running in another process"), "\(refused.err)")

        // The holder dies: the second takes over (documented: within the lease, 1 s here, plus
        // a quarter) and goes on from the last checkpoint.
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        let killed = ContinuousClock.now
        for i in 51...60 { try await log.append(to: "k\(i % 2)", event("T", "\(i)")) }
        #expect(await eventually(timeout: .seconds(60)) { second.positions.last == 60 })
        let takeover = ContinuousClock.now - killed
        print("lease takeover after SIGKILL of the holder: \(takeover) (lease 1 s)")
        // Nothing lost; repeated at most what the first printed after its last checkpoint.
        let all = first.positions + second.positions
        #expect(Set(all) == Set(1...60))
        let repeated = Set(first.positions).intersection(second.positions)
        #expect(repeated.isEmpty || repeated == Set((repeated.min()!)...50), "\(repeated.sorted())")
        let after = try jsonLines(try await kiroku(["consumers", store, "--json"]).out)
        #expect((after.first?["holder"] as? String)?.hasPrefix("\(second.process.processIdentifier)@") == true, "\(after)")
        second.process.terminate()
        second.process.waitUntilExit()
        #expect(second.process.terminationStatus == 0)
    }
}
