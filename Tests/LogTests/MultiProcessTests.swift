import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuLog

/// Real processes appending to one store at once: LMDB's lock file serialises their writers, and
/// each adopts the map the others grew.
@Suite struct MultiProcessTests {
    @Test func twoProcessesAndThisOneAppendToOneStore() async throws {
        let helper = try helperExecutable()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        var options = EventLog.Options()
        options.initialMapSize = 1 << 20
        let log = try EventLog(path: path, options: options)
        defer { log.close() }

        let count = 400
        // Payloads of 2000 bytes make about 2.5 MB: every process must grow or adopt the map.
        async let first = run(helper, ["append", path, "p1", "\(count)", "\(1 << 20)", "2000"])
        async let second = run(helper, ["append", path, "p2", "\(count)", "\(1 << 20)", "2000"])
        var mine: [String: AppendResult] = [:]
        for i in 0..<count {
            let id = "p0-\(i)"
            mine[id] = try await log.append(to: "p0-\(i % 7)", EventData(type: "Tested", payload: Data(count: 2000), id: id))
        }
        let outputs = try await [first, second]

        var acknowledged: [String: (key: String, version: UInt64, position: UInt64)] = [:]
        for line in outputs.joined(separator: "\n").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 5, fields[0] == "ack" else { continue }
            acknowledged[String(fields[1])] = (String(fields[2]), UInt64(fields[3])!, UInt64(fields[4])!)
        }
        for (id, result) in mine { acknowledged[id] = (result.key, result.version, result.position) }
        #expect(acknowledged.count == 3 * count)

        let head = try log.headPosition()
        #expect(head == UInt64(3 * count))
        var seen = 0
        var next: UInt64 = 1
        while true {
            let page = try log.readAll(from: next, limit: 256)
            guard !page.isEmpty else { break }
            for record in page {
                #expect(record.position == next)
                let id = try #require(record.id)
                let ack = try #require(acknowledged[id])
                #expect(ack.position == record.position && ack.key == record.key && ack.version == record.version)
                next += 1
                seen += 1
            }
        }
        #expect(seen == 3 * count)
        #expect(try log.verify().isClean)
    }
}
