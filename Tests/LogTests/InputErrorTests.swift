import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuLog

/// Every bad-input error a user can see, each with a clear message, and nothing written.
@Suite struct InputErrorTests {
    @Test func badKeysTypesIdsAndSizesAreRejected() async throws {
        var options = EventLog.Options()
        options.maxPayloadBytes = 1024
        try await withLog(options: options) { log, _ async throws in
            await expectError(.emptyKey) { try await log.append(to: "", event()) }
            let long = String(repeating: "k", count: EventLog.maxKeyBytes + 1)
            let tooLong = await expectError(.keyTooLong) { try await log.append(to: long, event()) }
            #expect(tooLong?.message.contains("\(EventLog.maxKeyBytes)") == true)
            try await log.append(to: String(repeating: "k", count: EventLog.maxKeyBytes), event())
            // Multi-byte characters count in bytes: 86 × 3 bytes = 258.
            await expectError(.keyTooLong) { try await log.append(to: String(repeating: "鍵", count: 86), event()) }
            await expectError(.invalidEventType) { try await log.append(to: "k", event("")) }
            await expectError(.invalidEventType) { try await log.append(to: "k", event(String(repeating: "t", count: 256))) }
            await expectError(.payloadTooLarge) {
                try await log.append(to: "k", EventData(type: "T", payload: Data(count: 1025)))
            }
            await expectError(.payloadTooLarge) {
                try await log.append(to: "k", EventData(type: "T", metadata: Data(count: 1025)))
            }
            try await log.append(to: "k", EventData(type: "T", payload: Data(count: 1024)))
            await expectError(.invalidEventId) { try await log.append(to: "k", event(id: "")) }
            await expectError(.invalidEventId) { try await log.append(to: "k", event(id: String(repeating: "i", count: 256))) }
            await expectError(.idReused) { try await log.append(to: "k", [event(id: "same"), event("Tested", "other", id: "same")]) }
            await expectError(.emptyAppend) { try await log.append(to: "k", []) }
            await expectError(.emptyAppend) { try await log.append([]) }
            // A bad group fails the whole atomic append.
            await expectError(.emptyKey) {
                try await log.append([AppendGroup(key: "fine", events: [event()]), AppendGroup(key: "", events: [event()])])
            }
            #expect(try log.headPosition() == 2)
            await expectError(.emptyKey) { _ = try log.read(key: "") }
            await expectError(.keyTooLong) { _ = try log.currentVersion(of: long) }
        }
    }

    @Test func invalidOptionsAreRejected() async {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var small = EventLog.Options()
        small.initialMapSize = 1000
        await expectError(.invalidOption) { _ = try EventLog(path: directory.sub("a"), options: small) }
        var payload = EventLog.Options()
        payload.maxPayloadBytes = 0
        await expectError(.invalidOption) { _ = try EventLog(path: directory.sub("a"), options: payload) }
        var readers = EventLog.Options()
        readers.maxReaders = 0
        await expectError(.invalidOption) { _ = try EventLog(path: directory.sub("a"), options: readers) }
        var flush = EventLog.Options()
        flush.durability = .noSync(flushInterval: .zero)
        await expectError(.invalidOption) { _ = try EventLog(path: directory.sub("a"), options: flush) }
    }

    @Test func closedLogRefusesWork() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let log = try EventLog(path: directory.sub("store"))
        try await log.append(to: "k", event())
        log.close()
        log.close()
        await expectError(.closed) { try await log.append(to: "k", event()) }
        await expectError(.closed) { _ = try log.read(key: "k") }
        await expectError(.closed) { _ = try log.headPosition() }
    }
}

@Suite struct StoreDirectoryErrorTests {
    @Test func missingDirectoryWithoutCreateIsNotFound() async {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = EventLog.Options()
        options.createIfMissing = false
        let error = await expectError(.storeNotFound) { _ = try EventLog(path: directory.sub("nope"), options: options) }
        #expect(error?.path == directory.sub("nope"))
    }

    @Test func createsMissingDirectoriesWithPrivatePermissions() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("a/b/store")
        let log = try EventLog(path: path)
        try await log.append(to: "k", event())
        log.close()
        let attributes = try FileManager.default.attributesOfItem(atPath: path + "/data.mdb")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func aDirectoryOfOtherFilesIsNotAStore() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Data("hello".utf8).write(to: URL(fileURLWithPath: directory.sub("notes.txt")))
        await expectError(.notAStore) { _ = try EventLog(path: directory.path) }
        // Nothing was created there.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["notes.txt"])
    }

    @Test func aFileIsNotAStore() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory.sub("file")))
        await expectError(.notAStore) { _ = try EventLog(path: directory.sub("file")) }
    }

    @Test func aGarbageDataFileIsNotAStore() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Data(repeating: 0xAB, count: 16384).write(to: URL(fileURLWithPath: directory.sub("data.mdb")))
        await expectError(.notAStore) { _ = try EventLog(path: directory.path) }
    }

    @Test func anLMDBEnvironmentOfAnotherProgramIsNotAStore() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // Another program's LMDB environment: data in the main database, no Kiroku meta.
        let env = try Environment(path: directory.path, configuration: .init(
            mapSize: 1 << 20, maxReaders: 16, maxDatabases: 4, flags: 0, fileMode: 0o600))
        try env.write { txn in
            let main = try Environment.openDatabase(txn, name: nil, flags: 0)
            try "theirs".withUTF8Bytes { key in try "value".withUTF8Bytes { try txn.put(main, key, $0) } }
        }
        env.close()
        await expectError(.notAStore) { _ = try EventLog(path: directory.path) }
    }

    @Test func aStoreFromANewerFormatIsRefused() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.sub("store")
        let log = try EventLog(path: path)
        try await log.append(to: "k", event())
        try log.environment.write { txn in
            var format = (StoreLayout.newestFormatVersion + 1).littleEndian
            try StoreLayout.formatKey.withUTF8Bytes { key in
                try withUnsafeBytes(of: &format) { try txn.put(log.layout.meta, key, $0) }
            }
        }
        log.close()
        let error = await expectError(.unsupportedFormat) { _ = try EventLog(path: path) }
        #expect(error?.message.contains("Upgrade Kiroku") == true)
    }

    @Test func openingTwiceInOneProcessIsRefused() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let log = try EventLog(path: directory.sub("store"))
        await expectError(.alreadyOpen) { _ = try EventLog(path: directory.sub("store")) }
        // Another spelling of the same path is the same store.
        await expectError(.alreadyOpen) { _ = try EventLog(path: directory.path + "/./store") }
        log.close()
        let again = try EventLog(path: directory.sub("store"))
        again.close()
    }

    @Test(.enabled(if: TmpfsMount.isAvailable, "needs root and mount rights (CI has them)"))
    func aReadOnlyFileSystemIsReported() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let mount = try TmpfsMount(at: directory.path, bytes: 1 << 20, readOnly: true)
        defer { mount.unmount() }
        await expectError(.permissionDenied) { _ = try EventLog(path: directory.path) }
        await expectError(.permissionDenied) { _ = try EventLog(path: directory.sub("inside")) }
    }

    @Test(.enabled(if: geteuid() != 0, "root ignores file permissions; the read-only mount test covers root"))
    func anUnwritableDirectoryIsReported() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        chmod(directory.path, 0o500)
        defer { chmod(directory.path, 0o700) }
        await expectError(.permissionDenied) { _ = try EventLog(path: directory.path) }
    }
}

@Suite struct StorageErrorTests {
    @Test func exhaustedReaderSlotsAreReported() async throws {
        var options = EventLog.Options()
        options.maxReaders = 1
        try await withLog(options: options) { log, _ async throws in
            try await log.append(to: "k", event())
            // A read inside a read holds two reader slots at once.
            let error = await expectError(.readersFull) {
                _ = try log.withReadTransaction { _ in try log.headPosition() }
            }
            #expect(error?.message.contains("maxReaders") == true)
            // The slots are free again afterwards.
            #expect(try log.headPosition() == 1)
        }
    }

    @Test func lmdbFailuresBecomeErrorsThatSayWhatToDo() {
        let io = KirokuError(status: LMDBStatus(code: EIO), path: NSTemporaryDirectory(), doing: "committing appends")
        #expect(io.code == .storageFailure)
        #expect(io.message.contains("Check the disk"))
        let full = KirokuError(status: LMDBStatus(code: ENOSPC), path: NSTemporaryDirectory(), doing: "committing appends")
        #expect(full.code == .diskFull)
        let panic = KirokuError(status: LMDBStatus(code: -30795), path: "/x", doing: "reading")
        #expect(panic.code == .storageFailure)
        #expect(panic.message.contains("close it and open it again"))
        let corrupt = KirokuError(status: LMDBStatus(code: -30796), path: "/x", doing: "reading")
        #expect(corrupt.code == .corruption)
        let denied = KirokuError(status: LMDBStatus(code: EACCES), path: "/x", doing: "opening the store")
        #expect(denied.code == .permissionDenied)
    }
}
