import Dispatch
import KirokuFeed
import Foundation
import KirokuLog

/// One version of one projection while a runner runs it: its own environment, its checkpoint,
/// its status.
final class RunningVersion: Sendable {
    let name: String
    let version: Int
    /// The code that applies records; `nil` for a version only kept to serve reads.
    let projection: (any Projection)?
    let store: KeyValueStore
    /// The version's directory.
    let path: String
    /// Write transactions block on fsync: they run on this queue, off the cooperative pool.
    private let queue: DispatchQueue
    private let state: Locked<State>
    /// Called after the position, the role or the failure changed (never with a lock held):
    /// the runner re-checks its waiters.
    private let onChange: @Sendable () -> Void

    static let metaTable = "_kiroku"
    static let positionKey = Array("position".utf8)

    struct State {
        var position: UInt64
        var role: ProjectionStatus.State
        /// Whether this version serves reads (it is the active one), even after it failed:
        /// readers then see its last good state while its status says failed.
        var serves: Bool
        var error: String?
        var samples: [(time: Date, position: UInt64)] = []
        /// Why the version's state cannot be trusted (it neither runs nor serves), if so.
        var untrusted: KirokuError?
    }

    /// `readTables`: for a version kept only to serve reads, the tables its readers read (those
    /// of the projection's registered code).
    init(name: String, version: Int, projection: (any Projection)?, path: String, role: ProjectionStatus.State,
         readTables: [String] = [], onChange: @escaping @Sendable () -> Void = {}) throws {
        self.onChange = onChange
        self.path = path
        self.name = name
        self.version = version
        self.projection = projection
        var options = KeyValueStore.Options()
        // Data pages are flushed at each commit, the meta page is not: a power loss may roll
        // back the last batches, state and checkpoint together, and they are applied again.
        options.syncEveryCommit = false
        store = try KeyValueStore(path: path, tables: (projection?.tables ?? readTables) + [Self.metaTable], options: options)
        let position = try store.read { txn in
            try txn.get(Self.positionKey, in: Self.metaTable).map(Self.decodePosition) ?? 0
        }
        state = Locked(State(position: position, role: role, serves: role == .active))
        queue = DispatchQueue(label: "kiroku.projection.\(name).v\(version)")
        // An erasure applied before a crash may still owe its scrub.
        if projection != nil, try store.read({ try $0.get(Self.scrubPendingKey, in: Self.metaTable) }) != nil {
            try Self.scrub(store)
        }
    }

    var position: UInt64 { state.withLock { $0.position } }

    /// The fingerprint of the log written with the checkpoint, if any.
    func storedFingerprint() throws -> LogFingerprint? {
        try store.read { try $0.get(LogFingerprint.key, in: Self.metaTable).flatMap(LogFingerprint.init(decoding:)) }
    }

    /// The file that marks a version committing without fsync, holding the boot it started in.
    static func unsyncedMarker(_ path: String) -> String { path + "/unsynced" }

    /// An identity of the running boot of the machine: after an OS crash or a restart it
    /// differs, and what a version wrote without fsync before it may be lost or torn.
    static func bootId() -> String {
        if let id = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) {
            return id.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // Elsewhere: the boot time, to the minute.
        return "boot-" + String(Int((Date().timeIntervalSince1970 - ProcessInfo.processInfo.systemUptime) / 60))
    }

    /// Commits without fsync (a building version, which can be rebuilt from the log) or with
    /// it again. While relaxed, a marker names the boot: a version found marked by another
    /// boot is discarded on open (see ``ProjectionRunner``).
    func relaxSync(_ relaxed: Bool) throws {
        let marker = Self.unsyncedMarker(path)
        if relaxed {
            guard FileManager.default.createFile(atPath: marker, contents: Data(Self.bootId().utf8), attributes: [.posixPermissions: 0o600]) else {
                throw KirokuError(.permissionDenied, "Cannot write \(marker); check the store directory's permissions.", path: marker)
            }
            try ProjectionDirectory.sync(marker, doing: "marking a build as unsynced")
            try ProjectionDirectory.sync(path, doing: "marking a build as unsynced")
            try store.relaxSync(true)
        } else {
            try store.relaxSync(false)
            if FileManager.default.fileExists(atPath: marker) {
                try FileManager.default.removeItem(atPath: marker)
                try ProjectionDirectory.sync(path, doing: "marking a build as synced")
            }
        }
    }
    var role: ProjectionStatus.State { state.withLock { $0.role } }

    var serves: Bool { state.withLock { $0.serves } }

    /// The error a failed version reports, or `nil`.
    var failure: KirokuError? {
        state.withLock { state in
            guard state.role == .failed else { return nil }
            if let untrusted = state.untrusted { return untrusted }
            return KirokuError(.projectionFailed, "Projection '\(name)' v\(version) failed after position \(state.position): \(Self.sentence(state.error)) Fix it and restart; it resumes from there.", position: state.position)
        }
    }

    /// An error's text as a sentence (one final period).
    static func sentence(_ text: String?) -> String {
        guard var text, !text.isEmpty else { return "unknown error." }
        while text.hasSuffix(".") { text.removeLast() }
        return text + "."
    }

    /// `notify`: whether to have the runner re-check its waiters now (a switch changes several
    /// versions' roles first, then re-checks once, so no waiter sees half a switch).
    func setRole(_ role: ProjectionStatus.State, notify: Bool = true) {
        state.withLock { state in
            state.role = role
            state.serves = role == .active
        }
        if notify { onChange() }
    }

    /// Another process moved this version's checkpoint: the batch was not applied.
    struct CheckpointMoved: Error {
        let position: UInt64
    }

    static func decodePosition(_ bytes: [UInt8]) -> UInt64 {
        UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    }

    /// Takes the checkpoint another process committed.
    func adopt(_ position: UInt64) {
        advance(to: position)
    }

    /// Applies a batch and moves the checkpoint in one transaction: exactly-once effects, also
    /// when several processes run this version (the checkpoint is checked inside the
    /// transaction, under LMDB's writer lock).
    func apply(_ batch: FeedBatch, prepared: (any Sendable)? = nil, fingerprint: LogFingerprint? = nil) async throws {
        guard let projection else { return }
        let store = store
        let expected = position
        let erases = batch.records.contains { $0.deletion != nil && $0.isErased }
        let queue = queue
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                do {
                    try store.write { txn in
                        let stored = try txn.get(Self.positionKey, in: Self.metaTable).map(Self.decodePosition) ?? 0
                        guard stored == expected else { throw CheckpointMoved(position: stored) }
                        if !batch.records.isEmpty {
                            try projection.apply(batch.records, prepared: prepared, to: ProjectionState(transaction: txn))
                        }
                        var position = batch.throughPosition.littleEndian
                        try txn.put(Self.positionKey, withUnsafeBytes(of: &position) { Array($0) }, in: Self.metaTable)
                        if let fingerprint { try txn.put(LogFingerprint.key, fingerprint.encoded, in: Self.metaTable) }
                        if erases { try txn.put(Self.scrubPendingKey, [1], in: Self.metaTable) }
                    }
                    // An erasure: none of the key's bytes may stay in freed pages of this file.
                    if erases { try Self.scrub(store, retryingOn: queue) }
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        advance(to: batch.throughPosition)
    }

    /// Zeroes the version's unreachable free pages, waiting up to a second for readers (a
    /// search holds its snapshot for milliseconds) to let go of the ones they pin.
    /// Pages still pinned after that leave the scrub owed: it is tried again on `queue` every
    /// few seconds (and when the version next opens) until it is done or the store closes.
    static func scrub(_ store: KeyValueStore, retryingOn queue: DispatchQueue? = nil) throws {
        for _ in 0..<20 {
            if try store.scrubFreePages(touching: metaTable).pagesPending == 0 {
                try store.write { try $0.delete(scrubPendingKey, in: metaTable) }
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        queue?.asyncAfter(deadline: .now() + 2) { try? scrub(store, retryingOn: queue) }
    }

    /// Set in the transaction that applied an erasure, cleared once its freed pages are zeroed.
    static let scrubPendingKey = Array("scrub-pending".utf8)

    private func advance(to position: UInt64) {
        state.withLock { state in
            state.position = position
            let now = Date()
            state.samples.append((now, position))
            state.samples.removeAll { now.timeIntervalSince($0.time) > 5 }
        }
        onChange()
    }

    /// Marks the version failed. `serving`: whether readers may still read its last good state
    /// (not when that state cannot be trusted).
    func fail(_ error: any Error, at position: UInt64, serving: Bool = true) {
        state.withLock { state in
            state.role = .failed
            state.error = "\(error)"
            if !serving {
                state.serves = false
                state.untrusted = error as? KirokuError
            }
        }
        onChange()
    }

    func status(head: UInt64) -> ProjectionStatus {
        state.withLock { state in
            let lag = head > state.position ? head - state.position : 0
            var rate = 0.0
            if let first = state.samples.first, let last = state.samples.last, last.time > first.time {
                rate = Double(last.position - first.position) / last.time.timeIntervalSince(first.time)
            }
            return ProjectionStatus(name: name, version: version, state: state.role, position: state.position,
                                    lag: lag, rate: rate, eta: rate > 0 ? Double(lag) / rate : (lag == 0 ? 0 : nil),
                                    error: state.error)
        }
    }
}
