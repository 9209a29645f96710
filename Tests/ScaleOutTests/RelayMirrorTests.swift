import Foundation
import KirokuFeed
import KirokuLog
import KirokuNATS
import KirokuScaleOut
import KirokuTestSupport
import Testing

/// Relay and mirror against a real three-node JetStream cluster on loopback.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RelayMirrorTests {
    /// Keys NATS cannot take as they are, and text equal as Strings but not as bytes.
    static let oddKeys = ["order.42", "with space", "star*", "gt>", "日本語のキー", "e\u{301}", "é", "crlf\r\nkey", "%41",
                          String(repeating: "記", count: 85), "tab\there", ".", ">"]

    @Test func oddKeysMultiKeyCommitsAndMetadataRoundTripThroughTheStream() async throws {
        let cluster = try await NATSCluster()
        defer { cluster.stop() }
        let directory = TemporaryDirectory("kiroku-scaleout")
        defer { directory.remove() }
        let source = try EventLog(path: directory.sub("source"))
        defer { source.close() }
        for (index, key) in Self.oddKeys.enumerated() {
            try await source.append(to: key, [event("Type.\(index) *", "payload \(index)", id: "id \(index).x", metadata: "meta \(index)"),
                                              EventData(type: "Bytes", payload: Data([0, 255, 13, 10, UInt8(index)]))])
        }
        // Atomic multi-key appends: a replica must never show part of one.
        for round in 0..<20 {
            try await source.append((0..<5).map { AppendGroup(key: "multi-\($0)", events: [event("Round", "\(round)")]) })
        }
        let relay = Relay(log: source, options: RelayOptions(servers: cluster.servers))
        let relaying = Task { try await relay.run() }
        defer { relaying.cancel() }

        let replica = try EventLog(path: directory.sub("replica"))
        defer { replica.close() }
        // Deliveries taken three at a time: the mirror must still apply only whole commits.
        var mirrorOptions = MirrorOptions(servers: cluster.servers, stream: relay.streamName)
        mirrorOptions.maxBatch = 3
        let mirror = Mirror(log: replica, options: mirrorOptions)
        let head = try source.headPosition()
        // Every head the replica shows, as its commits land.
        let observing = Task { () -> [UInt64] in
            var seen: [UInt64] = []
            var last: UInt64 = 0
            while last < head {
                last = try await replica.waitForAppends(after: last)
                seen.append(last)
            }
            return seen
        }
        let mirroring = Task { try await mirror.run() }
        defer { mirroring.cancel() }

        try await relay.waitUntilAcknowledged(head, timeout: .seconds(30))
        try await mirror.waitUntilApplied(head, timeout: .seconds(30))
        try expectEqualLogs(source, replica)
        // The source's commit boundaries: where the next record has another commit timestamp.
        let records = try source.readAll(from: 1, limit: 10_000)
        let boundaries = Set(records.indices.filter { $0 + 1 == records.count || records[$0 + 1].timestamp != records[$0].timestamp }
            .map { records[$0].position })
        let seen = try await observing.value
        #expect(!seen.isEmpty && seen.allSatisfy(boundaries.contains), "heads \(seen) not all commit ends \(boundaries.sorted())")
        #expect(try replica.replicaSource() == source.storeId)
        // A replica refuses appends; they go to the source.
        await expectError(.replicaReadOnly) { try await replica.append(to: "k", event()) }

        // Appends made while both run arrive too.
        try await source.append(to: "later", event())
        try await mirror.waitUntilApplied(head + 1, timeout: .seconds(30))
        try expectEqualLogs(source, replica)
        // The relay's checkpoint shows in the source's consumers.
        #expect(try await eventually { try await Consumers(log: source).checkpoint(of: relay.consumerName) == head + 1 })
    }

    @Test func deletionsAndErasuresReachTheReplica() async throws {
        let cluster = try await NATSCluster()
        defer { cluster.stop() }
        let directory = TemporaryDirectory("kiroku-scaleout-lifecycle")
        defer { directory.remove() }
        let source = try EventLog(path: directory.sub("source"))
        defer { source.close() }
        for i in 0..<40 {
            try await source.append(to: "customer-1", event("Noted", "zqxreplicasecret \(i)", metadata: "zqxreplicameta"))
            try await source.append(to: "order-\(i % 4)", event("Noted", "kept \(i)"))
        }
        // A record in another schema version travels with it (Kiroku-Schema), checksum and all.
        try await source.append(to: "order-3", EventData(type: "Noted", payload: Data("v2".utf8), schemaVersion: 2))
        let relay = Relay(log: source, options: RelayOptions(servers: cluster.servers))
        let relaying = Task { try await relay.run() }
        defer { relaying.cancel() }
        let replica = try EventLog(path: directory.sub("replica"))
        defer { replica.close() }
        let mirror = Mirror(log: replica, options: MirrorOptions(servers: cluster.servers, stream: relay.streamName))
        let mirroring = Task { try await mirror.run() }
        defer { mirroring.cancel() }
        try await mirror.waitUntilApplied(try source.headPosition(), timeout: .seconds(30))
        #expect(!dataFilesContaining("zqxreplicasecret", under: directory.sub("replica")).isEmpty)

        // On the source: an erasure, a soft and a hard delete. The replica does the same.
        _ = try await source.erase(key: "customer-1")
        try await source.delete(key: "order-1")
        try await source.delete(key: "order-2", mode: .hard)
        await expectError(.replicaReadOnly) { _ = try await replica.delete(key: "order-3") }
        try await mirror.waitUntilApplied(try source.headPosition(), timeout: .seconds(30))
        try await replica.finishPendingRemovals()
        #expect(try await eventually { try replica.statistics().scrubPending == false })
        try expectEqualLogs(source, replica)
        #expect(try replica.read(key: "customer-1").isEmpty && replica.read(key: "order-1").isEmpty && replica.read(key: "order-2").isEmpty)
        #expect(try replica.read(key: "order-3").count == 11)
        #expect(try replica.read(key: "order-3").last?.schemaVersion == 2)
        #expect(try replica.readAll(from: 1, limit: 1000).filter { $0.key == "customer-1" }.allSatisfy { $0.isErased && $0.payload.isEmpty })
        #expect(try replica.statistics().removedRecords == source.statistics().removedRecords)
        for secret in ["zqxreplicasecret", "zqxreplicameta"] {
            #expect(dataFilesContaining(secret, under: directory.sub("replica")) == [], "\(secret) is still in the replica's file")
            #expect(dataFilesContaining(secret, under: directory.sub("source")) == [], "\(secret) is still in the source's file")
        }
        #expect(try replica.verify().isClean)
    }
}

/// Both logs hold the same records, byte for byte (checksums equal, so the bytes are).
func expectEqualLogs(_ a: EventLog, _ b: EventLog, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let head = try a.headPosition()
    #expect(try b.headPosition() == head, sourceLocation: sourceLocation)
    var position: UInt64 = 1
    while position <= head {
        let left = try a.readAll(from: position, limit: 1000)
        let right = try b.readAll(from: position, limit: 1000)
        #expect(left == right, sourceLocation: sourceLocation)
        position += UInt64(max(1, left.count))
        if left != right { return }
    }
    for probe in Set([1, head / 2, head].filter { $0 > 0 }) {
        #expect(try a.recordChecksum(at: probe) == b.recordChecksum(at: probe), sourceLocation: sourceLocation)
    }
}
