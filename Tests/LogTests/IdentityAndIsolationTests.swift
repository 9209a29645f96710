import KirokuFeed
import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuLog

/// Keys, ids, types and names are identities by their bytes.
@Suite struct ByteIdentityTests {
    static let precomposed = "caf\u{E9}"      // 63 61 66 c3 a9
    static let decomposed = "cafe\u{301}"     // 63 61 66 65 cc 81

    @Test func canonicallyEquivalentKeysAreTwoKeysWithTwoHistories() async throws {
        try await withLog { log, _ async throws in
            #expect(Self.precomposed == Self.decomposed, "Swift's == says they are one string")
            let first = try await log.append(to: Self.precomposed, event(), expected: .noStream)
            let second = try await log.append(to: Self.decomposed, event(), expected: .noStream)
            #expect(first.version == 1 && second.version == 1)
            try await log.append(to: Self.decomposed, event(), expected: .exact(1))
            #expect(try log.read(key: Self.precomposed).map(\.position) == [1])
            #expect(try log.read(key: Self.decomposed).map(\.position) == [2, 3])
            #expect(try log.read(key: Self.decomposed).allSatisfy { $0.key.utf8.elementsEqual(Self.decomposed.utf8) })
            #expect(try log.currentVersion(of: Self.precomposed) == 1)
            #expect(try log.currentVersion(of: Self.decomposed) == 2)
            let report = try log.verify()
            #expect(report.isClean, "\(report.problems)")
        }
    }

    @Test func bothSpellingsInOneAtomicAppendGetTheirOwnVersions() async throws {
        try await withLog { log, _ async throws in
            let results = try await log.append([
                AppendGroup(key: Self.precomposed, events: [event()], expected: .noStream),
                AppendGroup(key: Self.decomposed, events: [event()], expected: .noStream),
            ])
            #expect(results.map(\.version) == [1, 1])
            #expect(try log.verify().isClean)
        }
    }

    @Test func prefixesAndKeyPagingFollowBytes() async throws {
        try await withLog { log, _ async throws in
            // Three spellings of Å (U+00C5, the Angstrom sign U+212B, A + ring): one String, three keys.
            let spellings = ["\u{C5}", "\u{212B}", "A\u{30A}"]
            for key in spellings + [Self.decomposed, Self.precomposed] { try await log.append(to: key, event()) }
            var listed: [String] = []
            var after: String?
            while let page = Optional(try log.keys(after: after, limit: 1)), let last = page.last {
                listed += page
                after = last
            }
            let byBytes = (spellings + [Self.decomposed, Self.precomposed]).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            #expect(listed.map { Array($0.utf8) } == byBytes.map { Array($0.utf8) })
            // "cafe" is a byte prefix of the decomposed spelling, not of the precomposed one.
            #expect(try log.keys(prefix: "cafe").map { Array($0.utf8) } == [Array(Self.decomposed.utf8)])
            let records = try log.readAll()
            #expect(records.filter(Selection.prefix("cafe").matches).map(\.position) == [4])
            #expect(records.filter(Selection.key("\u{212B}").matches).map(\.position) == [2])
            #expect(records.filter(Selection.keys(["\u{C5}", "A\u{30A}"]).matches).map(\.position) == [1, 3])
        }
    }

    @Test func idsAndTypesAreComparedByBytes() async throws {
        try await withLog { log, _ async throws in
            // Two ids that are one String: two events.
            try await log.append(to: "k", event(id: "\u{E9}"))
            let other = try await log.append(to: "k", event(id: "e\u{301}"))
            #expect(other.repeats == 0 && other.position == 2)
            // A type spelled the other way is other content: the id is reused.
            try await log.append(to: "k", event("\u{DC}ber", id: "t"))
            await expectError(.idReused) { try await log.append(to: "k", event("U\u{308}ber", id: "t")) }
            #expect(try log.headPosition() == 3)
            #expect(try log.readAll().filter(Selection.all.types(["U\u{308}ber"]).matches).isEmpty)
        }
    }

    @Test func tableNamesAreBytesAndNeverHoldNUL() async throws {
        try await withLog { log, _ async throws in
            let a = try await log.table(named: "t\u{E9}")
            let b = try await log.table(named: "te\u{301}")
            #expect(a.dbi != b.dbi)
            try await log.write([.put(a, key: [1], value: [1])])
            #expect(try log.value(in: b, for: [1]) == nil)
            // C would read "records\0x" as "records", the log's own database.
            let error = await expectError(.invalidTableName) { _ = try await log.table(named: "records\u{0}x") }
            #expect(error?.message.contains("NUL") == true)
            await expectError(.invalidTableName) { _ = try await log.table(named: "\u{0}") }
            try await log.append(to: "k", event())
            #expect(try log.verify().isClean)
        }
    }
}

/// A failed table operation fails its own request; the appends beside it in the batch commit.
@Suite struct BatchIsolationTests {
    /// Appends from many tasks while `failing` runs among them; every append must commit.
    func appendsAround(_ log: EventLog, _ failing: @escaping @Sendable () async throws -> Void) async throws -> Error? {
        try await withThrowingTaskGroup(of: Error?.self) { group in
            for round in 0..<3 {
                for i in 0..<64 { group.addTask { try await log.append(to: "k-\(round)-\(i)", event()); return nil } }
                group.addTask {
                    do { try await failing(); return nil } catch { return error }
                }
            }
            var failure: Error?
            for try await outcome in group { if let outcome { failure = outcome } }
            return failure
        }
    }

    @Test func aFailedTablePutFailsOnlyItself() async throws {
        try await withLog { log, _ async throws in
            let table = try await log.table(named: "good")
            // A handle LMDB does not know: mdb_put fails with EINVAL inside the batch.
            let broken = LogTable(name: "broken", dbi: 999)
            let failure = try await appendsAround(log) {
                try await log.write([.put(table, key: [1], value: [1]), .put(broken, key: [1], value: [1])])
            }
            #expect((failure as? KirokuError)?.code == .storageFailure, "\(String(describing: failure))")
            #expect(try log.headPosition() == 192)
            // The failed request left nothing, not even its first put.
            #expect(try log.value(in: table, for: [1]) == nil)
            try await log.write([.put(table, key: [2], value: [2])])
            #expect(try log.value(in: table, for: [2]) == [2])
            #expect(try log.verify().isClean)
        }
    }

    @Test func runningOutOfTablesFailsOnlyTheOpen() async throws {
        try await withLog { log, _ async throws in
            var opened = 0
            var error: KirokuError?
            while error == nil, opened < EventLog.maxDatabases {
                let failure = try await appendsAround(log) { [opened] in _ = try await log.table(named: "table-\(opened)") }
                if let failure { error = failure as? KirokuError } else { opened += 1 }
            }
            #expect(error?.code == .tooManyTables, "\(String(describing: error))")
            #expect(error?.message.contains("\(EventLog.maxDatabases)") == true)
            #expect(opened > 20 && opened < EventLog.maxDatabases)
            // Every append around every open committed.
            #expect(try log.headPosition() == UInt64((opened + 1) * 192))
            #expect(try log.verify().isClean)
        }
    }
}

/// After a failed flush the log stops acknowledging until it is reopened.
@Suite struct FlushFailureTests {
    @Test func aFailedPeriodicFlushStopsEveryLaterAppend() async throws {
        var options = EventLog.Options()
        options.durability = .noSync(flushInterval: .milliseconds(20))
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        do {
            let log = try EventLog(path: path, options: options)
            defer { log.close() }
            try await log.append(to: "k", event())
            log.environment.faults.fail(.sync, code: EIO)
            try await log.append(to: "k", event())
            // The next flush fails; from then on every append fails, though a later fsync would succeed.
            var failure: KirokuError?
            let stopped = await eventually {
                do { try await log.append(to: "k", event()); return false } catch {
                    failure = error as? KirokuError
                    return true
                }
            }
            #expect(stopped)
            #expect(failure?.code == .flushFailed)
            #expect(failure?.message.contains("open it again") == true)
            let head = try log.headPosition()
            try await Task.sleep(for: .milliseconds(60))
            await expectError(.flushFailed) { try await log.append(to: "k", event()) }
            await expectError(.flushFailed) { try await log.append(to: "other", event()) }
            // Reads still work; nothing more was written.
            #expect(try log.headPosition() == head)
        }
        let reopened = try EventLog(path: path, options: options)
        defer { reopened.close() }
        try await reopened.append(to: "k", event())
        #expect(try reopened.verify().isClean)
    }

    @Test func aCommitThatFailsWithAnIOErrorStopsTheLog() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        do {
            let log = try EventLog(path: path)
            defer { log.close() }
            try await log.append(to: "k", event())
            log.environment.faults.fail(.commit, code: EIO)
            await expectError(.flushFailed) { try await log.append(to: "k", event()) }
            await expectError(.flushFailed) { try await log.append(to: "k", event()) }
            #expect(try log.headPosition() == 1)
        }
        let reopened = try EventLog(path: path)
        defer { reopened.close() }
        #expect(try await reopened.append(to: "k", event()).position == 2)
    }
}
