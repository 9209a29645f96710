import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuLog

@Suite struct MapGrowthTests {
    @Test func theMapGrowsByItselfAndNothingIsLost() async throws {
        var options = EventLog.Options()
        options.initialMapSize = 1 << 20
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        let log = try EventLog(path: path, options: options)
        let payload = Data(repeating: 7, count: 4000)
        // About 8 MiB through a 1 MiB map: several growth steps, with batches in flight.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for i in 0..<500 {
                        try await log.append(to: "k\(task)", EventData(type: "Big", payload: payload, id: "\(task)-\(i)"))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(log.environment.mapSize > 1 << 20)
        // One large atomic append that needs several growth steps at once.
        let big = (0..<200).map { EventData(type: "Big", payload: payload, id: "big-\($0)") }
        try await log.append(to: "bulk", big)
        log.close()
        let reopened = try EventLog(path: path, options: options)
        defer { reopened.close() }
        #expect(try reopened.headPosition() == 2200)
        #expect(try reopened.read(key: "k2", limit: 10_000).count == 500)
        #expect(try reopened.read(key: "bulk", limit: 10_000).allSatisfy { $0.payload == payload })
        #expect(try reopened.verify().isClean)
    }
}

@Suite struct DurabilityTests {
    @Test(arguments: [Durability.full, .noMetaSync, .noSync(flushInterval: .milliseconds(20))])
    func everyModeKeepsAppendsAcrossReopen(durability: Durability) async throws {
        var options = EventLog.Options()
        options.durability = durability
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        let log = try EventLog(path: path, options: options)
        for i in 0..<50 { try await log.append(to: "k\(i % 5)", event(id: "\(i)")) }
        // Let the periodic flush of .noSync run at least once.
        try await Task.sleep(for: .milliseconds(60))
        for i in 50..<60 { try await log.append(to: "k\(i % 5)", event(id: "\(i)")) }
        log.close()
        let reopened = try EventLog(path: path, options: options)
        defer { reopened.close() }
        #expect(try reopened.headPosition() == 60)
        #expect(try reopened.verify().isClean)
    }
}

@Suite struct CorruptionTests {
    @Test func flippedBytesAreFoundByVerifyAndByReads() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        let log = try EventLog(path: path)
        for i in 1...20 {
            let marker = i == 13 ? "MARKER-THIRTEEN" : "ordinary payload \(i)"
            try await log.append(to: "k\(i % 3)", EventData(type: "T", payload: Data(marker.utf8)))
        }
        log.close()

        let file = URL(fileURLWithPath: path + "/data.mdb")
        var bytes = try Data(contentsOf: file)
        // LMDB copies pages on write, so stale copies may sit in free pages: damage them all.
        var damagedCopies = 0
        var searchStart = bytes.startIndex
        while let range = bytes.range(of: Data("MARKER-THIRTEEN".utf8), in: searchStart..<bytes.endIndex) {
            bytes[range.lowerBound + 3] ^= 0x20
            damagedCopies += 1
            searchStart = range.upperBound
        }
        #expect(damagedCopies >= 1)
        try bytes.write(to: file)

        let damaged = try EventLog(path: path)
        defer { damaged.close() }
        let report = try damaged.verify()
        #expect(!report.isClean)
        #expect(report.problems.contains { $0.kind == .badRecord && $0.position == 13 })
        #expect(report.recordsChecked == 20)
        let readError = await expectError(.corruption) { _ = try damaged.record(at: 13) }
        #expect(readError?.position == 13)
        await expectError(.corruption) { _ = try damaged.readAll(from: 10) }
        await expectError(.corruption) { _ = try damaged.read(key: "k1") }
        // The records around it still read.
        #expect(try damaged.record(at: 12)?.position == 12)
        #expect(try damaged.readAll(from: 14).count == 7)
    }

    @Test func verifyFindsIndexInconsistencies() async throws {
        try await withLog { log, _ async throws in
            for i in 1...40 { try await log.append(to: i == 40 ? "other" : "k", event(id: "id-\(i)")) }
            // Damage the indexes directly: the key's latest entry, a version-index entry, an id.
            try log.environment.write { txn in
                try "k".withUTF8Bytes { key in
                    try VersionPosition(version: 30, position: 30).withBytes { try txn.put(log.layout.keys, key, $0) }
                    try KeyIndex.withIndexKey(key, version: 16) { try txn.delete(log.layout.versionIndex, $0) }
                }
                try "id-2".withUTF8Bytes { id in
                    try BigEndianKey(5).withBytes { try txn.put(log.layout.ids, id, $0) }
                }
            }
            let report = try log.verify(chunkSize: 3)
            #expect(report.problems.contains { $0.kind == .indexMismatch && $0.position == 39 }, "\(report.problems)")
            #expect(report.problems.contains { $0.kind == .indexMismatch && $0.position == 16 }, "\(report.problems)")
            #expect(report.problems.contains { $0.kind == .idMismatch && $0.position == 2 }, "\(report.problems)")
            #expect(report.recordsChecked == 40)
            #expect(report.idsChecked == 40)
            #expect(report.keysChecked == 2 + 1) // two keys; versions 16 (deleted) and 32 of "k"
            // Reads that need the damaged entries say so instead of returning wrong records.
            await expectError(.corruption) { _ = try log.read(key: "k", from: 10, limit: 3) }
        }
    }

    @Test func verifyFindsABrokenVersionChain() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        let log = try EventLog(path: path)
        for i in 1...5 { try await log.append(to: "k", event("T", "payload \(i)")) }
        // Rewrite version 4 (position 4) with a valid checksum but a link to the wrong record.
        try log.environment.write { txn in
            try "k".withUTF8Bytes { key in
                let event = EventData(type: "T", payload: Data("payload 4".utf8))
                try BigEndianKey(4).withBytes { position in
                    try txn.putReserved(log.layout.records, position, size: RecordCodec.encodedSize(keyCount: key.count, event: event)) { buffer in
                        RecordCodec.encode(into: buffer, position: 4, version: 4, previous: 1, timestampMicros: 0, key: key, event: event)
                    }
                }
            }
        }
        let report = try log.verify()
        #expect(report.problems.contains { $0.kind == .versionGap && $0.position == 4 }, "\(report.problems)")
        await expectError(.corruption) { _ = try log.read(key: "k") }
        log.close()
    }
}

@Suite(.serialized) struct DiskFullTests {
    @Test(.enabled(if: TmpfsMount.isAvailable, "needs root and mount rights (CI has them)"))
    func diskFullIsAClearErrorAndKeepsEveryCommittedRecord() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let mount = try TmpfsMount(at: directory.path, bytes: 3 << 20, readOnly: false)
        defer { mount.unmount() }
        let path = directory.sub("store")
        var options = EventLog.Options()
        options.initialMapSize = 1 << 20
        var acknowledged: [AppendResult] = []
        var failure: KirokuError?
        do {
            let log = try EventLog(path: path, options: options)
            let payload = Data(repeating: 0x5A, count: 8000)
            for i in 0..<2000 {
                do {
                    acknowledged.append(try await log.append(to: "k\(i % 4)", EventData(type: "Fill", payload: payload, id: "fill-\(i)")))
                } catch let error as KirokuError {
                    failure = error
                    break
                }
            }
            // With room again, the same open log appends again.
            if failure != nil {
                try mount.resize(bytes: 16 << 20)
                acknowledged.append(try await log.append(to: "after", EventData(type: "Fill", payload: payload, id: "after-full")))
            }
            log.close()
        }
        let error = try #require(failure, "the 3 MiB file system never filled up")
        #expect(error.code == .diskFull, "\(error)")
        #expect(error.message.contains("Free space"))
        #expect(acknowledged.count > 10)

        let reopened = try EventLog(path: path, options: options)
        defer { reopened.close() }
        #expect(try reopened.headPosition() == UInt64(acknowledged.count))
        for result in acknowledged {
            let record = try #require(try reopened.record(at: result.position))
            #expect(record.key == result.key && record.version == result.version)
        }
        #expect(try reopened.verify().isClean)
    }
}
