import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuLog

@Suite struct TablesTests {
    @Test func tablesStoreAndListBytesThroughTheWriter() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        do {
            let log = try EventLog(path: path)
            let table = try await log.table(named: "things")
            #expect(try await log.table(named: "things") == table)
            try await log.write([
                .put(table, key: Array("b".utf8), value: [2]),
                .put(table, key: Array("a".utf8), value: [1]),
                .put(table, key: Array("c".utf8), value: [3]),
                .put(table, key: Array("ab".utf8), value: [4]),
            ])
            try await log.write([.delete(table, key: Array("c".utf8)), .delete(table, key: Array("missing".utf8))])
            log.close()
        }
        let log = try EventLog(path: path)
        defer { log.close() }
        let table = try await log.table(named: "things")
        #expect(try log.value(in: table, for: Array("a".utf8)) == [1])
        #expect(try log.value(in: table, for: Array("c".utf8)) == nil)
        #expect(try log.entries(in: table).map(\.key) == [Array("a".utf8), Array("ab".utf8), Array("b".utf8)])
        #expect(try log.entries(in: table, prefix: Array("a".utf8)).map(\.value) == [[1], [4]])
        #expect(try log.entries(in: table, after: Array("a".utf8), limit: 1).map(\.value) == [[4]])
        // Tables are not records: the log is untouched.
        #expect(try log.headPosition() == 0)
        #expect(try log.verify().isClean)
    }

    @Test func badTableNamesAndKeysAreRejected() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let log = try EventLog(path: directory.sub("store"))
        defer { log.close() }
        for name in ["", "records", "keys", "ids", "meta", "version-index", "lifecycle", String(repeating: "t", count: 65)] {
            do {
                _ = try await log.table(named: name)
                Issue.record("'\(name)' was accepted")
            } catch let error as KirokuError {
                #expect(error.code == .invalidTableName)
            }
        }
        let table = try await log.table(named: "fine")
        for key in [[UInt8](), [UInt8](repeating: 1, count: 512)] {
            do {
                try await log.write([.put(table, key: key, value: [])])
                Issue.record("a key of \(key.count) bytes was accepted")
            } catch let error as KirokuError {
                #expect(error.code == .invalidTableKey)
            }
        }
    }
}

@Suite struct WaitingTests {
    @Test func anAppendWakesAWaiterAtOnce() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let log = try EventLog(path: directory.sub("store"))
        defer { log.close() }
        try await log.append(to: "k", EventData(type: "T"))
        #expect(try await log.waitForAppends(after: 0) == 1)
        let waiter = Task { try await log.waitForAppends(after: 1) }
        try await Task.sleep(for: .milliseconds(20))
        try await log.append(to: "k", EventData(type: "T"))
        #expect(try await waiter.value == 2)
    }

    @Test func cancellationAndCloseEndAWait() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let log = try EventLog(path: directory.sub("store"))
        let cancelled = Task { try await log.waitForAppends(after: 0) }
        try await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        let closing = Task { try await log.waitForAppends(after: 0) }
        try await Task.sleep(for: .milliseconds(20))
        log.close()
        do {
            _ = try await closing.value
            Issue.record("the wait outlived the log")
        } catch let error as KirokuError {
            #expect(error.code == .closed)
        }
    }

    @Test func anAppendByAnotherProcessWakesAWaiter() async throws {
        let helper = try helperExecutable()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        let log = try EventLog(path: path)
        defer { log.close() }
        let waiter = Task { try await log.waitForAppends(after: 0) }
        try await Task.sleep(for: .milliseconds(20))
        _ = try await run(helper, ["append", path, "other", "3"])
        #expect(try await waiter.value >= 1)
    }
}
