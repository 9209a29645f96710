import CLMDB
import Foundation
import Logging

/// A durable, append-only log of partition-keyed events, stored in one LMDB environment.
///
/// Open it once per process and share it: every method is safe to call from any task.
/// Appends go through one writer thread that commits concurrent appends together (group
/// commit); reads run in short read-only transactions and never wait for the writer.
///
/// ```swift
/// let log = try EventLog(path: "/var/lib/app/events")
/// let result = try await log.append(to: "order-42", [EventData(type: "OrderPlaced", payload: bytes)],
///                                   expected: .noStream)
/// let history = try log.read(key: "order-42")
/// ```
///
/// Several processes may open the same store; LMDB's lock file serialises their writers.
public final class EventLog: Sendable {
    /// The longest partition key, in UTF-8 bytes (LMDB's own key limit is 511).
    public static let maxKeyBytes = 255
    /// The longest event type, in UTF-8 bytes.
    public static let maxTypeBytes = 255
    /// The longest idempotency id, in UTF-8 bytes (ids are LMDB keys too).
    public static let maxIdBytes = 255
    /// How many LMDB databases one store holds: the log's own five, the feed's tables and
    /// whatever tables the layers above open.
    public static let maxDatabases = 32

    /// The store directory, as given to `init`.
    public let path: String
    let canonicalPath: String
    let options: Options
    let environment: Environment
    let layout: StoreLayout
    let writer: Writer
    let heads: HeadMonitor
    let openTables = Locked<[ExactString: LogTable]>([:])
    private let isClosed = Locked(false)

    /// Opens the store at `path`, creating it when it does not exist (unless options say not to).
    ///
    /// - Throws: ``KirokuError`` with code ``KirokuError/Code/storeNotFound``,
    ///   ``KirokuError/Code/notAStore``, ``KirokuError/Code/unsupportedFormat``,
    ///   ``KirokuError/Code/alreadyOpen``, ``KirokuError/Code/permissionDenied``,
    ///   ``KirokuError/Code/invalidOption`` or ``KirokuError/Code/storageFailure``.
    public init(path: String, options: Options = Options()) throws {
        try Self.validate(options)
        let canonical = try StoreDirectory.prepare(path: path, create: options.createIfMissing)
        try OpenStores.claim(canonical, requestedPath: path)
        var claimed = true
        defer { if claimed { OpenStores.release(canonical) } }

        var flags: Int32 = 0
        switch options.durability {
        case .full: break
        case .noMetaSync: flags |= MDB_NOMETASYNC
        case .noSync: flags |= MDB_NOSYNC
        }
        let environment: Environment
        do {
            environment = try Environment(path: canonical, configuration: .init(
                mapSize: options.initialMapSize, maxReaders: UInt32(options.maxReaders),
                maxDatabases: UInt32(Self.maxDatabases), flags: flags, fileMode: options.fileMode))
        } catch {
            throw StoreDirectory.openError(error, path: path)
        }
        let layout: StoreLayout
        do {
            layout = try StoreLayout.open(environment)
        } catch {
            environment.close()
            throw StoreDirectory.openError(error, path: path)
        }
        self.layout = layout
        self.path = path
        self.canonicalPath = canonical
        self.options = options
        self.environment = environment
        let heads = HeadMonitor(environment: environment, initialHead: try Self.initialHead(environment, layout, path: path)) { txn in
            try layout.headPosition(in: txn)
        }
        self.heads = heads
        self.writer = Writer(environment: environment, layout: layout, durability: options.durability,
                             maxBatch: options.maxBatchRequests, coalesceWindow: options.groupCommitWindow,
                             logger: options.logger, onCommit: { heads.publish($0) })
        claimed = false
        options.logger.debug("Opened event log", metadata: ["path": "\(path)", "mapSize": "\(environment.mapSize)"])
    }

    deinit {
        close()
    }

    /// Commits what is queued, then closes the store. Later calls fail with ``KirokuError/Code/closed``.
    /// Calling it again does nothing.
    public func close() {
        let first = isClosed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        writer.stop()
        heads.close()
        environment.close()
        OpenStores.release(canonicalPath)
    }

    // MARK: Appending

    /// Appends events to one key, atomically, if its current version is what `expected` says.
    ///
    /// An event with an id that is stored already with the same key, type, payload and
    /// metadata (byte for byte) is an identical repeat: it is not written again, and the result
    /// gives its original position (``StoredEvent/isRepeat``). The same holds for an event
    /// repeated within one append. When the whole append repeats an earlier one, nothing is
    /// written and the earlier result comes back, whatever `expected` says now: a retry never
    /// conflicts with itself.
    ///
    /// - Returns: where each event is stored.
    /// - Throws: ``KirokuError`` with ``KirokuError/Code/versionConflict`` (the message names the
    ///   expected and actual versions), ``KirokuError/Code/idReused`` (an id stored, or given
    ///   earlier in this append, with other content), a bad-input code (empty or long key, type
    ///   or id; payload too large; no events), ``KirokuError/Code/diskFull``,
    ///   ``KirokuError/Code/flushFailed`` or ``KirokuError/Code/closed``. A failed append writes
    ///   nothing.
    @discardableResult
    public func append(to key: String, _ events: [EventData], expected: ExpectedVersion = .any) async throws -> AppendResult {
        let results = try await append([AppendGroup(key: key, events: events, expected: expected)])
        return results[0]
    }

    /// Appends one event to one key; see ``append(to:_:expected:)``.
    @discardableResult
    public func append(to key: String, _ event: EventData, expected: ExpectedVersion = .any) async throws -> AppendResult {
        try await append(to: key, [event], expected: expected)
    }

    /// Appends several groups of events, each to its key with its own expectation, all or
    /// nothing: either every group commits (in order, at consecutive positions) or none does.
    ///
    /// - Returns: one result per group, in order.
    /// - Throws: as ``append(to:_:expected:)``; the first failing group fails the whole call.
    @discardableResult
    public func append(_ groups: [AppendGroup]) async throws -> [AppendResult] {
        try validate(groups)
        guard case .appended(let results) = try await writer.submit(.append(stamped(groups))) else {
            preconditionFailure("the writer answered an append with another outcome")
        }
        return results
    }

    /// Appends groups one by one, in order, in one commit: each group is judged alone (its
    /// expectation, its ids, its input) as if appended by itself, and one that fails does not
    /// stop the others, unless `stopAtFirstError` says so. For imports and replays of many
    /// independent events, where one atomic append of all of them would fail on one bad event.
    ///
    /// The outcome is the same as appending the groups one at a time: a group sees the groups
    /// before it, so an identical repeat of an earlier group is a repeat.
    ///
    /// - Returns: one result per group applied, in order. With `stopAtFirstError`, the list
    ///   ends with the first failure and the groups after it are not applied.
    /// - Throws: what fails every group alike: ``KirokuError/Code/diskFull``,
    ///   ``KirokuError/Code/flushFailed``, ``KirokuError/Code/closed``, storage failures.
    public func appendEach(_ groups: [AppendGroup], stopAtFirstError: Bool = false) async throws -> [Result<AppendResult, KirokuError>] {
        // Bad input fails its own group; the writer sees only the valid ones.
        var checked: [Result<AppendGroup, KirokuError>] = []
        checked.reserveCapacity(groups.count)
        for group in groups {
            do {
                try validate([group])
                checked.append(.success(group))
            } catch let error as KirokuError {
                checked.append(.failure(error))
                if stopAtFirstError { break }
            }
        }
        let valid = stamped(checked.compactMap { try? $0.get() })
        var applied: [Result<AppendResult, KirokuError>] = []
        if !valid.isEmpty {
            guard case .appendedEach(let results) = try await writer.submit(.appendEach(valid, stopAtFirstError: stopAtFirstError)) else {
                preconditionFailure("the writer answered an append with another outcome")
            }
            applied = results
        }
        // Merge back in input order; with stopAtFirstError, end at the first failure of either kind.
        var merged: [Result<AppendResult, KirokuError>] = []
        merged.reserveCapacity(checked.count)
        var next = applied.makeIterator()
        for entry in checked {
            let result: Result<AppendResult, KirokuError>
            switch entry {
            case .failure(let error): result = .failure(error)
            case .success:
                guard let outcome = next.next() else { return merged }
                result = outcome
            }
            merged.append(result)
            if stopAtFirstError, case .failure = result { break }
        }
        return merged
    }

    private static func initialHead(_ environment: Environment, _ layout: StoreLayout, path: String) throws -> UInt64 {
        do {
            return try environment.read { txn in try layout.headPosition(in: txn) }
        } catch {
            environment.close()
            throw StoreDirectory.openError(error, path: path)
        }
    }

    // MARK: Input checks (on the caller's task, so the writer only checks state)

    private static func validate(_ options: Options) throws {
        guard options.initialMapSize >= 1 << 20 else {
            throw KirokuError(.invalidOption, "initialMapSize must be at least 1 MiB (got \(options.initialMapSize)); the map grows by itself, so a small value only costs growth steps.")
        }
        guard options.maxPayloadBytes > 0, options.maxPayloadBytes <= Int(UInt32.max) else {
            throw KirokuError(.invalidOption, "maxPayloadBytes must be between 1 and \(UInt32.max) (got \(options.maxPayloadBytes)).")
        }
        guard options.maxReaders >= 1, options.maxReaders <= 65_536 else {
            throw KirokuError(.invalidOption, "maxReaders must be between 1 and 65536 (got \(options.maxReaders)).")
        }
        guard options.groupCommitWindow >= .zero, options.groupCommitWindow <= .seconds(1) else {
            throw KirokuError(.invalidOption, "groupCommitWindow must be between 0 and 1 second (got \(options.groupCommitWindow)).")
        }
        if case .noSync(let interval) = options.durability, interval <= .zero {
            throw KirokuError(.invalidOption, "The flush interval of .noSync must be positive (got \(interval)).")
        }
    }

    func validate(_ groups: [AppendGroup]) throws {
        guard !groups.isEmpty else {
            throw KirokuError(.emptyAppend, "An atomic append needs at least one group; pass the groups to commit together.", path: path)
        }
        for group in groups {
            try Self.validate(key: group.key)
            guard !group.events.isEmpty else {
                throw KirokuError(.emptyAppend, "An append to '\(group.key)' has no events; pass at least one event.", path: path, key: group.key)
            }
            for event in group.events {
                let typeBytes = event.type.utf8.count
                guard typeBytes > 0, typeBytes <= Self.maxTypeBytes else {
                    throw KirokuError(.invalidEventType, typeBytes == 0
                        ? "An event for '\(group.key)' has an empty type; give every event a type such as \"OrderPlaced\"."
                        : "An event type for '\(group.key)' is \(typeBytes) bytes; use at most \(Self.maxTypeBytes) UTF-8 bytes.",
                        path: path, key: group.key)
                }
                guard event.payload.count <= options.maxPayloadBytes else {
                    throw KirokuError(.payloadTooLarge, "An event payload for '\(group.key)' is \(event.payload.count) bytes, over the limit of \(options.maxPayloadBytes); store large blobs elsewhere and append a reference, or raise Options.maxPayloadBytes.", path: path, key: group.key)
                }
                if let metadata = event.metadata, metadata.count > options.maxPayloadBytes {
                    throw KirokuError(.payloadTooLarge, "Event metadata for '\(group.key)' is \(metadata.count) bytes, over the limit of \(options.maxPayloadBytes); keep metadata small.", path: path, key: group.key)
                }
                if event.restored != nil, !event.payload.isEmpty || event.metadata != nil {
                    throw KirokuError(.payloadTooLarge, "An erased record or deletion marker for '\(group.key)' carries a payload or metadata; it has neither.", path: path, key: group.key)
                }
                if let schema = event.schemaVersion, !(1...Int(UInt16.max)).contains(schema) {
                    throw KirokuError(.invalidSchemaVersion, "An event of type '\(event.type)' for '\(group.key)' has schema version \(schema); use 1 to \(UInt16.max), or nil for the type's current version.", path: path, key: group.key)
                }
                if event.restored?.deletion != nil, (event.schemaVersion ?? 1) != 1 {
                    throw KirokuError(.invalidSchemaVersion, "A deletion marker for '\(group.key)' has schema version \(event.schemaVersion ?? 1); markers have none.", path: path, key: group.key)
                }
                if let id = event.id {
                    let idBytes = id.utf8.count
                    guard idBytes > 0, idBytes <= Self.maxIdBytes else {
                        throw KirokuError(.invalidEventId, idBytes == 0
                            ? "An event for '\(group.key)' has an empty id; omit the id or give it a value."
                            : "An event id for '\(group.key)' is \(idBytes) bytes; use at most \(Self.maxIdBytes) UTF-8 bytes (a UUID or a hash).",
                            path: path, key: group.key)
                    }
                }
            }
        }
    }

    /// The groups with each event's schema version stamped (``Upcasters/currentVersion(of:)``
    /// for those that give none).
    private func stamped(_ groups: [AppendGroup]) -> [AppendGroup] {
        let upcasters = options.upcasters
        guard !upcasters.isEmpty else { return groups }
        return groups.map { group in
            var group = group
            group.events = group.events.map(upcasters.stamped)
            return group
        }
    }

    /// Checks a partition key: not empty, at most ``maxKeyBytes`` UTF-8 bytes.
    static func validate(key: String) throws {
        let bytes = key.utf8.count
        guard bytes > 0 else {
            throw KirokuError(.emptyKey, "The partition key is empty; give every append a key such as \"order-42\".")
        }
        guard bytes <= maxKeyBytes else {
            throw KirokuError(.keyTooLong, "The partition key is \(bytes) bytes; use at most \(maxKeyBytes) UTF-8 bytes (hash long natural keys).", key: String(key.prefix(64)))
        }
    }
}
