import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuLog

@Suite struct AppendAndReadTests {
    /// A Codable event appended again with its id (a client's retry) is a repeat, every time:
    /// Foundation's JSONEncoder orders keys differently from one encoding to the next on Linux,
    /// so `EventData.json` sorts them. Found through Examples/ActivityService, whose repeated
    /// POST was refused as `id-reused`.
    @Test func aCodableEventAppendedAgainWithItsIdIsARepeat() async throws {
        struct ActivityLogged: Codable {
            var id: String, deal: String, text: String, owner: String
            var status: String?, amount: Double?, date: String?
        }
        let activity = ActivityLogged(id: "a-1", deal: "deal-7", text: "見積を送付", owner: "alice", status: "open", amount: 120_000, date: "2024-05-01")
        try await withLog { log, _ async throws in
            let first = try await log.append(to: "deal-7", .json(activity, type: "ActivityLogged", id: "a-1"))
            for _ in 0..<50 {
                let again = try await log.append(to: "deal-7", .json(activity, type: "ActivityLogged", id: "a-1"))
                #expect(again.repeats == 1 && again.position == first.position)
            }
            #expect(try log.headPosition() == 1)
        }
    }

    @Test func appendReturnsPositionsAndVersions() async throws {
        try await withLog { log, _ async throws in
            let first = try await log.append(to: "a", [event(), event()])
            #expect(first.key == "a")
            #expect(first.positions == 1...2)
            #expect(first.versions == 1...2)
            #expect(first.version == 2)
            let second = try await log.append(to: "b", event())
            #expect(second.positions == 3...3)
            #expect(second.versions == 1...1)
            let third = try await log.append(to: "a", event())
            #expect(third.position == 4)
            #expect(third.version == 3)
            #expect(try log.headPosition() == 4)
            #expect(try log.currentVersion(of: "a") == 3)
            #expect(try log.currentVersion(of: "b") == 1)
            #expect(try log.currentVersion(of: "nobody") == nil)
        }
    }

    @Test func recordsCarryEverythingAppended() async throws {
        try await withLog { log, _ async throws in
            let before = Date()
            try await log.append(to: "order-1", event("OrderPlaced", "{\"n\":1}", id: "id-1", metadata: "{\"user\":\"u\"}"))
            try await log.append(to: "order-1", EventData(type: "Empty"))
            let records = try log.read(key: "order-1")
            #expect(records.count == 2)
            let record = records[0]
            #expect(record.position == 1)
            #expect(record.key == "order-1")
            #expect(record.version == 1)
            #expect(record.type == "OrderPlaced")
            #expect(record.payload == Data("{\"n\":1}".utf8))
            #expect(record.metadata == Data("{\"user\":\"u\"}".utf8))
            #expect(record.id == "id-1")
            #expect(record.timestamp.timeIntervalSince(before) > -1)
            #expect(record.timestamp.timeIntervalSinceNow < 1)
            #expect(records[1].payload.isEmpty)
            #expect(records[1].metadata == nil)
            #expect(records[1].id == nil)
            #expect(try log.record(at: 2) == records[1])
            #expect(try log.record(at: 3) == nil)
        }
    }

    @Test func unicodeKeysAndTypesRoundTrip() async throws {
        try await withLog { log, _ async throws in
            try await log.append(to: "顧客-山田", event("活動記録", "営業メモ"))
            let record = try #require(try log.read(key: "顧客-山田").first)
            #expect(record.type == "活動記録")
            #expect(String(decoding: record.payload, as: UTF8.self) == "営業メモ")
            #expect(try log.keys(prefix: "顧客") == ["顧客-山田"])
        }
    }

    @Test func readKeyForwardAndBackwardWithPaging() async throws {
        try await withLog { log, _ async throws in
            for i in 1...10 {
                try await log.append(to: "k", event("E", "\(i)"))
                try await log.append(to: "other", event())
            }
            #expect(try log.read(key: "k").map(\.version) == Array(1...10))
            #expect(try log.read(key: "k", from: 4, limit: 3).map(\.version) == [4, 5, 6])
            #expect(try log.read(key: "k", from: 11).isEmpty)
            #expect(try log.read(key: "k", from: 10, direction: .backward, limit: 3).map(\.version) == [10, 9, 8])
            #expect(try log.read(key: "k", from: .max, direction: .backward, limit: 2).map(\.version) == [10, 9])
            #expect(try log.read(key: "k", from: 3, direction: .backward).map(\.version) == [3, 2, 1])
            #expect(try log.read(key: "k", from: 0, direction: .backward).isEmpty)
            #expect(try log.read(key: "k", limit: 0).isEmpty)
            #expect(try log.read(key: "missing").isEmpty)
            #expect(try log.read(key: "k").map { String(decoding: $0.payload, as: UTF8.self) } == (1...10).map(String.init))
            // Positions interleave with the other key.
            #expect(try log.read(key: "k").map(\.position) == stride(from: 1, through: 19, by: 2).map { UInt64($0) })
        }
    }

    /// Reads cross the version index's stride in every way: from each version, both directions,
    /// limits below, at and above the stride.
    @Test func keyReadsFromEveryVersionMatchTheModel() async throws {
        try await withLog { log, _ async throws in
            let count = 3 * Int(KeyIndex.stride) + 5
            var positions: [UInt64] = []
            for i in 1...count {
                positions.append(try await log.append(to: "k", event("E", "\(i)")).position)
                if i % 3 == 0 { try await log.append(to: "other-\(i % 4)", event()) }
            }
            let last = UInt64(count)
            for from in UInt64(0)...(last + 2) {
                for limit in [1, 5, 15, 16, 17, 40, 1000] {
                    let forward = try log.read(key: "k", from: from, limit: limit)
                    let start = max(from, 1)
                    let expectedForward = start > last ? [] : Array(start...min(last, start + UInt64(limit) - 1))
                    #expect(forward.map(\.version) == expectedForward, "forward from \(from) limit \(limit)")
                    #expect(forward.map(\.position) == expectedForward.map { positions[Int($0) - 1] })
                    let backward = try log.read(key: "k", from: from, direction: .backward, limit: limit)
                    let top = min(from, last)
                    let expectedBackward = top == 0 ? [] : Array((max(1, Int(top) - limit + 1)...Int(top)).reversed()).map { UInt64($0) }
                    #expect(backward.map(\.version) == expectedBackward, "backward from \(from) limit \(limit)")
                    #expect(backward.map { String(decoding: $0.payload, as: UTF8.self) } == expectedBackward.map { "\($0)" })
                }
            }
        }
    }

    @Test func readAllPagesThroughTheLogInOrder() async throws {
        try await withLog { log, _ async throws in
            for i in 0..<25 { try await log.append(to: "k\(i % 3)", event()) }
            var seen: [UInt64] = []
            var next: UInt64 = 1
            while true {
                let page = try log.readAll(from: next, limit: 7)
                if page.isEmpty { break }
                seen += page.map(\.position)
                next = page.last!.position + 1
            }
            #expect(seen == Array(1...25))
            #expect(try log.readAll(from: 26).isEmpty)
            #expect(try log.readAll(from: 0, limit: 1).map(\.position) == [1])
        }
    }

    @Test func emptyLogReads() async throws {
        try await withLog { log, _ async throws in
            #expect(try log.headPosition() == 0)
            #expect(try log.readAll().isEmpty)
            #expect(try log.keys().isEmpty)
            #expect(try log.verify().isClean)
        }
    }

    @Test func keysByPrefixWithPaging() async throws {
        try await withLog { log, _ async throws in
            for key in ["order-2", "order-1", "customer-1", "order-10", "orders", "ord"] {
                try await log.append(to: key, [event(), event()])
            }
            #expect(try log.keys() == ["customer-1", "ord", "order-1", "order-10", "order-2", "orders"])
            #expect(try log.keys(prefix: "order-") == ["order-1", "order-10", "order-2"])
            #expect(try log.keys(prefix: "order-", limit: 2) == ["order-1", "order-10"])
            #expect(try log.keys(prefix: "order-", after: "order-10") == ["order-2"])
            #expect(try log.keys(prefix: "zzz").isEmpty)
            #expect(try log.keys(prefix: "", after: "orders").isEmpty)
        }
    }

    @Test func dataSurvivesCloseAndReopen() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        do {
            let log = try EventLog(path: path)
            try await log.append(to: "a", [event(id: "x"), event()])
            log.close()
        }
        let log = try EventLog(path: path)
        defer { log.close() }
        #expect(try log.headPosition() == 2)
        #expect(try log.read(key: "a").map(\.id) == ["x", nil])
        let retry = try await log.append(to: "a", [event(id: "x"), event()])
        #expect(retry.positions == 1...2)
        #expect(try await log.append(to: "a", event()).position == 3)
    }

    @Test func codableHelpersRoundTrip() async throws {
        struct Placed: Codable, Equatable { var item: String; var quantity: Int }
        struct Other: Codable { var missing: String }
        try await withLog { log, _ async throws in
            try await log.append(to: "o", .json(Placed(item: "tea", quantity: 2), type: "Placed"))
            let record = try #require(try log.read(key: "o").first)
            #expect(try record.decode(Placed.self) == Placed(item: "tea", quantity: 2))
            let error = await expectError(.payloadDecoding) { _ = try record.decode(Other.self) }
            #expect(error?.position == 1)
            await expectError(.payloadEncoding) { _ = try EventData.json(Double.nan, type: "Bad") }
        }
    }
}
