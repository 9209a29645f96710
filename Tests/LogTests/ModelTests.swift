import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuLog

/// Random appends from concurrent tasks, checked against an in-memory model of what each
/// acknowledged append must have done; then again after close and reopen.
@Suite struct ModelTests {
    /// What the model knows of one acknowledged append.
    struct Acknowledged {
        let groups: [AppendGroup]
        let results: [AppendResult]
    }

    @Test func randomConcurrentAppendsMatchTheModel() async throws {
        let seed = SeededGenerator.seed(label: "ModelTests")
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        var options = EventLog.Options()
        options.initialMapSize = 1 << 20
        let log = try EventLog(path: path, options: options)

        let keys = (0..<12).map { "key-\($0)" }
        let tasks = 8
        let requestsPerTask = 150
        let acknowledged = try await withThrowingTaskGroup(of: [Acknowledged].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var random = SeededGenerator(seed: seed &+ UInt64(task))
                    var mine: [Acknowledged] = []
                    var ids: [String] = []
                    for request in 0..<requestsPerTask {
                        let groupCount = Int.random(in: 0..<10, using: &random) == 0 ? Int.random(in: 2...3, using: &random) : 1
                        var groups: [AppendGroup] = []
                        for groupIndex in 0..<groupCount {
                            let key = keys.randomElement(using: &random)!
                            let events = (0..<Int.random(in: 1...3, using: &random)).map { n in
                                EventData(type: "T\(n)", payload: Data("\(task)-\(request)-\(n)".utf8),
                                          id: Bool.random(using: &random) ? "\(task)-\(request)-\(groupIndex)-\(n)" : nil)
                            }
                            let current = (try? log.currentVersion(of: key)) ?? nil
                            let expected: ExpectedVersion = switch Int.random(in: 0..<5, using: &random) {
                            case 0: .any
                            case 1: .noStream
                            case 2: .streamExists
                            default: .exact(current ?? 0)
                            }
                            groups.append(AppendGroup(key: key, events: events, expected: expected))
                        }
                        do {
                            let results = try await log.append(groups)
                            mine.append(Acknowledged(groups: groups, results: results))
                            ids += groups.flatMap { $0.events.compactMap(\.id) }
                            // Sometimes retry the same request: it must return the same result.
                            if groups.allSatisfy({ $0.events.contains { $0.id != nil } }), Int.random(in: 0..<4, using: &random) == 0 {
                                let retry = try await log.append(groups)
                                #expect(samePlaces(retry, results), "seed \(seed)")
                            }
                        } catch let error as KirokuError where error.code == .versionConflict {
                            continue
                        }
                    }
                    return mine
                }
            }
            var all: [Acknowledged] = []
            for try await part in group { all += part }
            return all
        }

        func check(_ log: EventLog) throws {
            // Every acknowledged event is where its result says, with its bytes.
            var byPosition: [UInt64: (String, UInt64, EventData)] = [:]
            for append in acknowledged {
                for (group, result) in zip(append.groups, append.results) {
                    #expect(group.key == result.key)
                    #expect(result.positions.count == group.events.count)
                    for (offset, event) in group.events.enumerated() {
                        let position = result.positions.lowerBound + UInt64(offset)
                        #expect(byPosition[position] == nil, "seed \(seed): position \(position) acknowledged twice")
                        byPosition[position] = (group.key, result.versions.lowerBound + UInt64(offset), event)
                    }
                }
            }
            let head = try log.headPosition()
            #expect(head == UInt64(byPosition.count), "seed \(seed): head \(head), acknowledged \(byPosition.count)")
            var next: UInt64 = 1
            while true {
                let page = try log.readAll(from: next, limit: 500)
                guard !page.isEmpty else { break }
                for record in page {
                    #expect(record.position == next, "seed \(seed): gap before \(record.position)")
                    let expected = try #require(byPosition[record.position], "seed \(seed): unacknowledged record at \(record.position)")
                    #expect(record.key == expected.0 && record.version == expected.1, "seed \(seed)")
                    #expect(record.type == expected.2.type && record.payload == expected.2.payload && record.id == expected.2.id, "seed \(seed)")
                    next += 1
                }
            }
            // Per key: versions 1...n, gapless, in position order.
            for key in keys {
                let records = try log.read(key: key, limit: 100_000)
                #expect(records.map(\.version) == Array(stride(from: UInt64(1), through: UInt64(records.count), by: 1)), "seed \(seed)")
                #expect(records.map(\.position) == records.map(\.position).sorted(), "seed \(seed)")
                #expect(try log.currentVersion(of: key) == (records.isEmpty ? nil : UInt64(records.count)))
            }
            let report = try log.verify(chunkSize: 97)
            #expect(report.isClean, "seed \(seed): \(report.problems.prefix(5))")
        }

        #expect(acknowledged.count > 100, "seed \(seed): too few appends succeeded to mean anything")
        try check(log)
        log.close()
        let reopened = try EventLog(path: path, options: options)
        try check(reopened)
        reopened.close()
    }
}
