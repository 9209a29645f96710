// A second process for Kiroku's cross-process and crash tests. Not for users.
//
//   LogTestHelper append <store> <name> <count> [initialMapSize] [payloadBytes]
//     Appends `count` events with ids "<name>-<i>" to keys "<name>-<i % 7>" from 8 concurrent
//     tasks and prints one line per acknowledged append: "ack <id> <key> <version> <position>".
//   LogTestHelper project <store>
//     Runs the built-in event-counts projection until killed, printing "ready" once running.
//   LogTestHelper switch <store>
//     Runs versions 1 and 2 of the "weighted" projection (v2 counts each record twice, slowly)
//     until killed: v2 builds, then switches on.
//   LogTestHelper crash <store> <acks> <run>
//     The crash campaign's mixed workload, until killed (see CrashWorker.swift).
//   LogTestHelper react <store>
//     Runs the "invoicing" reacting processor (ReactionWorkload) until killed, printing "ready".
//   LogTestHelper lifecycle <store> <acks> <run>
//     Appends, deletions, erasures, compaction and retention steps, until killed (LifecycleWorker.swift).
import Foundation
import KirokuFeed
import KirokuTestSupport
import KirokuLog
import KirokuProjections

@main
struct LogTestHelper {
    /// Runs `body`; an error goes to standard error and ends the process with status 1.
    static func exitOnError(_ body: @Sendable () async throws -> Void) async {
        do {
            try await body()
        } catch {
            FileHandle.standardError.write(Data("LogTestHelper: \(error)\n".utf8))
            exit(1)
        }
    }

    static func main() async {
        let arguments = CommandLine.arguments
        if arguments.count == 5, arguments[1] == "lifecycle", let run = Int(arguments[4]) {
            await exitOnError { try await LifecycleWorker.run(store: arguments[2], acks: arguments[3], run: run) }
            return
        }
        if arguments.count == 5, arguments[1] == "crash", let run = Int(arguments[4]) {
            await exitOnError { try await CrashWorker.run(store: arguments[2], acks: arguments[3], run: run) }
            return
        }
        if arguments.count == 3, arguments[1] == "react" {
            await exitOnError {
                let log = try EventLog(path: arguments[2])
                var configuration = KeyedProcessor.Configuration()
                configuration.lanes = 4
                configuration.batchSize = 16
                configuration.checkpointInterval = .milliseconds(20)
                let processor = KeyedProcessor.reacting(log: log, consumer: ReactionWorkload.consumer, selection: .prefix("order-"),
                                               configuration: configuration) { record in
                    try await Task.sleep(for: .microseconds(Int.random(in: 0...1500)))
                    return ReactionWorkload.react(to: record)
                }
                FileHandle.standardOutput.write(Data("ready\n".utf8))
                try await processor.run()
            }
            return
        }
        if arguments.count == 3, arguments[1] == "switch" {
            await exitOnError {
                let log = try EventLog(path: arguments[2])
                let runner = ProjectionRunner(log: log, projections: [WeightedCount(version: 1), WeightedCount(version: 2)], batchSize: 37)
                try await runner.run()
            }
            return
        }
        if arguments.count == 3, arguments[1] == "project" {
            await exitOnError {
                let log = try EventLog(path: arguments[2])
                let runner = ProjectionRunner(log: log, projections: [EventCounts()], batchSize: 37)
                FileHandle.standardOutput.write(Data("ready\n".utf8))
                try await runner.run()
            }
            return
        }
        guard arguments.count >= 5, arguments[1] == "append", let count = Int(arguments[4]) else {
            FileHandle.standardError.write(Data("usage: LogTestHelper append <store> <name> <count> [initialMapSize] [payloadBytes]\n".utf8))
            exit(64)
        }
        let path = arguments[2]
        let name = arguments[3]
        var options = EventLog.Options()
        if arguments.count > 5, let size = Int(arguments[5]) { options.initialMapSize = size }
        let payloadBytes = arguments.count > 6 ? Int(arguments[6]) ?? 100 : 100
        do {
            let log = try EventLog(path: path, options: options)
            let payload = Data(repeating: UInt8(ascii: "x"), count: payloadBytes)
            let lines = try await withThrowingTaskGroup(of: [String].self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        var lines: [String] = []
                        for i in stride(from: lane, to: count, by: 8) {
                            let id = "\(name)-\(i)"
                            let key = "\(name)-\(i % 7)"
                            let result = try await log.append(to: key, EventData(type: "Tested", payload: payload, id: id))
                            lines.append("ack \(id) \(key) \(result.version) \(result.position)")
                        }
                        return lines
                    }
                }
                var all: [String] = []
                for try await lines in group { all += lines }
                return all
            }
            log.close()
            print(lines.joined(separator: "\n"))
        } catch {
            FileHandle.standardError.write(Data("LogTestHelper: \(error)\n".utf8))
            exit(1)
        }
    }
}

/// Counts records × version: version 2 changes what `apply` means, so it needs a rebuild.
/// Version 2 is slow (2 ms a batch) so that a kill can land while it builds or switches on.
struct WeightedCount: Projection {
    let name = "weighted"
    let version: Int
    let selection = Selection.all
    let tables = ["counts"]

    func apply(_ records: [Record], to state: ProjectionState) throws {
        if version == 2 { Thread.sleep(forTimeInterval: 0.002) }
        let current = try state.get(UInt64.self, "total", in: "counts") ?? 0
        try state.put(current + UInt64(records.count * version), "total", in: "counts")
    }
}
