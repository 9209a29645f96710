import CLMDB
import Foundation

/// Applies one append request inside the writer's transaction: the repeat and id checks, the
/// expected-version checks, then the puts. Every check is a read that happens before any put,
/// so a request that fails leaves nothing behind and its batch goes on without it.
///
/// Identity is bytes: keys, ids and types are compared as the UTF-8 the store holds, never
/// with `String ==` (which treats canonically equivalent strings as equal).
struct AppendPlanner {
    let layout: StoreLayout
    /// The last position committed or written so far in this transaction.
    var head: UInt64
    let timestampMicros: Int64
    /// The store this one replicates (`meta` "replica-of"), `nil` while not read: the writer
    /// passes what it knows already (see ``Writer``), else it is read on the first append or
    /// replication of the transaction. A replica takes records only through
    /// ``replicate(_:from:in:)``.
    private(set) var replicaOf: UUID??
    /// Whether this transaction raised the store to the schema format already (see ``put``).
    private var schemaFormatRaised = false

    init(layout: StoreLayout, head: UInt64, timestampMicros: Int64, replicaOf: UUID?? = nil) {
        self.layout = layout
        self.head = head
        self.timestampMicros = timestampMicros
        self.replicaOf = replicaOf
    }

    mutating func replicaSourceForLifecycle(in txn: Transaction) throws -> UUID? {
        try replicaSource(in: txn)
    }

    private mutating func replicaSource(in txn: Transaction) throws -> UUID? {
        if let known = replicaOf { return known }
        let source = try layout.replicaSource(in: txn)
        replicaOf = .some(source)
        return source
    }

    /// What the planner decided for one event of the request.
    private enum Plan {
        /// Write it.
        case new
        /// Already stored, identical, at this place.
        case stored(position: UInt64, version: UInt64)
        /// Identical to the event at this (group, event) index earlier in the request.
        case sameAs(group: Int, event: Int)
    }

    /// Applies one request. A `.failure` fails this request alone (the batch commits the
    /// others); a thrown error (map full, I/O) fails the whole transaction.
    mutating func apply(_ groups: [AppendGroup], in txn: Transaction) throws -> Result<[AppendResult], KirokuError> {
        if let source = try replicaSource(in: txn) {
            return .failure(KirokuError(
                .replicaReadOnly,
                "This store is a read replica of store \(source.uuidString.lowercased()): its records come only from the source, through the mirror. Append to the source store; the mirror brings the events here.",
                key: groups.first?.key))
        }
        // Without ids every event is new: no repeat to look for (the common case, kept cheap).
        let hasIds = groups.contains { $0.events.contains { $0.id != nil } }
        // The first id's lookup, when it is not stored, is not made again by `plan`.
        var firstIdAbsent = false
        if hasIds {
            switch try earlierAppend(groups, in: txn) {
            case .repeated(let earlier): return .success(earlier)
            case .firstIdAbsent: firstIdAbsent = true
            case .notARepeat: break
            }
        }
        // `nil`: every event is new.
        var plans: [[Plan]]?
        if hasIds {
            switch try plan(groups, firstIdAbsent: firstIdAbsent, in: txn) {
            case .success(let planned): plans = planned
            case .failure(let error): return .failure(error)
            }
        }
        // Check every group's expectation against the key's version, as left by earlier
        // requests of this batch and earlier groups of this request. A group whose events are
        // all repeats was checked when it was first written: a retry never conflicts with itself.
        var versions: [ExactString: UInt64] = [:]
        // Each key's entry as read here and as moved by each group written below, so the
        // writes need not read it again.
        var latestEntries: [ExactString: KeyEntry?] = [:]
        let index = KeyIndex(layout: layout)
        var firstVersions: [UInt64] = []
        firstVersions.reserveCapacity(groups.count)
        for (groupIndex, group) in groups.enumerated() {
            let key = ExactString(group.key)
            let current: UInt64
            // A key emptied by a soft delete may start again with `.noStream`.
            var emptied = false
            if let known = versions[key] {
                current = known
            } else {
                let entry = try group.key.withUTF8Bytes { try index.entry($0, in: txn) }
                latestEntries[key] = .some(entry)
                current = entry?.latest.version ?? 0
                emptied = entry.map { $0.isEmpty && $0.firstVisible > 1 } ?? false
                if let entry, entry.isClosed {
                    return .failure(KirokuError(
                        .keyDeleted,
                        "Key '\(group.key)' was deleted for good (a hard delete, at version \(entry.latest.version)); it takes no more events. Append to another key.",
                        key: group.key, actualVersion: current))
                }
            }
            let newCount = UInt64(plans?[groupIndex].reduce(0) { if case .new = $1 { $0 + 1 } else { $0 } } ?? group.events.count)
            let recreates = emptied && (group.expected == .noStream || group.expected == .exact(0))
            if newCount > 0, !recreates, !group.expected.isSatisfied(byCurrentVersion: current) {
                return .failure(KirokuError(
                    .versionConflict,
                    "Key '\(group.key)' is at version \(current) but the append expected \(group.expected); read the key again and retry with its current version.",
                    key: group.key, expectedVersion: group.expected, actualVersion: current))
            }
            firstVersions.append(current + 1)
            versions[key] = current + newCount
        }
        // Write. Each group takes its key's latest entry as the groups before it left it.
        var results: [AppendResult] = []
        results.reserveCapacity(groups.count)
        for (groupIndex, group) in groups.enumerated() {
            // Each event's place is listed only for a group with repeats; a group of new
            // events is one run of positions and versions.
            let groupPlan = plans?[groupIndex]
            let hasRepeats = groupPlan?.contains { if case .new = $0 { false } else { true } } ?? false
            var stored: [StoredEvent] = []
            if hasRepeats { stored.reserveCapacity(group.events.count) }
            let firstPosition = head + 1
            var version = firstVersions[groupIndex]
            let exactKey = ExactString(group.key)
            try group.key.withUTF8Bytes { key in
                var entry = try latestEntries[exactKey] ?? index.entry(key, in: txn)
                var latest = entry?.latest
                for (offset, event) in group.events.enumerated() {
                    switch groupPlan?[offset] ?? .new {
                    case .stored(let position, let storedVersion):
                        stored.append(StoredEvent(position: position, version: storedVersion, isRepeat: true))
                    case .sameAs(let g, let e):
                        let original = results.indices.contains(g) ? results[g].events[e] : stored[e]
                        stored.append(StoredEvent(position: original.position, version: original.version, isRepeat: true))
                    case .new:
                        head += 1
                        let flags = event.restored.map { RecordCodec.flags(isErased: $0.isErased, deletion: $0.deletion) } ?? 0
                        try put(event, key: key, version: version, previous: latest?.position ?? 0, position: head,
                                timestampMicros: timestampMicros, flags: flags, in: txn)
                        try index.noteVersion(key, version: version, position: head, in: txn)
                        latest = VersionPosition(version: version, position: head)
                        if let deletion = event.restored?.deletion {
                            // An imported deletion marker does what the original did.
                            if entry == nil { entry = KeyEntry(latest: latest!) } else { entry!.latest = latest! }
                            try Lifecycle.noteDeletion(key, entry: &entry!, hard: deletion == .hard, erase: event.restored!.isErased,
                                                       layout: layout, in: txn)
                        }
                        if hasRepeats { stored.append(StoredEvent(position: head, version: version, isRepeat: false)) }
                        version += 1
                    }
                }
                if let latest, version > firstVersions[groupIndex] {
                    if entry == nil { entry = KeyEntry(latest: latest) } else { entry!.latest = latest }
                    try index.setEntry(key, entry!, in: txn)
                }
                latestEntries[exactKey] = .some(entry)
            }
            results.append(hasRepeats
                ? AppendResult(key: group.key, events: stored)
                : AppendResult(key: group.key, positions: firstPosition...head, versions: firstVersions[groupIndex]...(version - 1)))
        }
        return .success(results)
    }

    /// Decides, for each event, whether it is new or an identical repeat; an id used by other
    /// content (stored, or earlier in this request) fails the request with `id-reused`.
    private func plan(_ groups: [AppendGroup], firstIdAbsent: Bool, in txn: Transaction) throws -> Result<[[Plan]], KirokuError> {
        var firstIdAbsent = firstIdAbsent
        var plans: [[Plan]] = []
        plans.reserveCapacity(groups.count)
        // Ids seen earlier in this request; only built when there can be a second one.
        let withIds = groups.reduce(0) { count, group in count + group.events.reduce(0) { $0 + ($1.id == nil ? 0 : 1) } }
        var seen: [ExactString: (group: Int, event: Int)] = [:]
        for (g, group) in groups.enumerated() {
            var groupPlans: [Plan] = []
            groupPlans.reserveCapacity(group.events.count)
            for (e, event) in group.events.enumerated() {
                guard let id = event.id else {
                    groupPlans.append(.new)
                    continue
                }
                if withIds > 1, let earlier = seen[ExactString(id)] {
                    let first = groups[earlier.group]
                    if let difference = Self.difference(first.key, first.events[earlier.event], group.key, event) {
                        return .failure(KirokuError(
                            .idReused,
                            "Event id '\(id)' appears twice in this append with different content (its \(difference) differs); give each event its own id, or send a repeated event unchanged.",
                            key: group.key))
                    }
                    groupPlans.append(.sameAs(group: earlier.group, event: earlier.event))
                    continue
                }
                // The request's first id was looked up already (by `earlierAppend`).
                let stored = firstIdAbsent ? nil : try storedPosition(ofId: id, in: txn)
                firstIdAbsent = false
                if let position = stored {
                    let check = try compareStored(at: position, key: group.key, event: event, in: txn)
                    switch check {
                    case .success(let version): groupPlans.append(.stored(position: position, version: version))
                    case .failure(let difference):
                        return .failure(KirokuError(
                            .idReused,
                            "Event id '\(id)' is already stored at position \(position) with different content (its \(difference.field) differs); give new events new ids, or repeat the stored event exactly.",
                            key: group.key, position: position))
                    }
                } else {
                    groupPlans.append(.new)
                }
                if withIds > 1 { seen[ExactString(id)] = (g, e) }
            }
            plans.append(groupPlans)
        }
        return .success(plans)
    }

    /// Which field of two events differs, comparing bytes; `nil` when they are identical.
    private static func difference(_ key: String, _ event: EventData, _ otherKey: String, _ other: EventData) -> String? {
        if !key.utf8Equals(otherKey) { return "key" }
        if !event.type.utf8Equals(other.type) { return "type" }
        if event.payload != other.payload { return "payload" }
        if event.metadata != other.metadata { return "metadata" }
        if RecordCodec.schema(of: event) != RecordCodec.schema(of: other) { return "schema version" }
        return nil
    }

    private struct Difference: Error { let field: String }

    /// The stored record's version when it holds exactly this event (key, type, id, payload,
    /// metadata, byte for byte), or which field differs.
    private func compareStored(at position: UInt64, key: String, event: EventData, in txn: Transaction) throws -> Result<UInt64, Difference> {
        try BigEndianKey(position).withBytes { positionBytes in
            guard let bytes = try txn.get(layout.records, positionBytes) else {
                throw KirokuError(.corruption, "The id index points at position \(position), which holds no record; run verify.", position: position)
            }
            let view = try RecordCodec.checkedView(position: position, bytes: bytes)
            return view.difference(key: key, event: event).map { .failure(Difference(field: $0)) } ?? .success(view.version)
        }
    }

    mutating func put(_ event: EventData, key: UnsafeRawBufferPointer, version: UInt64, previous: UInt64, position: UInt64,
                      timestampMicros: Int64, flags: UInt8 = 0, in txn: Transaction) throws {
        if !schemaFormatRaised, RecordCodec.schema(of: event) != 1 {
            // A record with a schema version is format 3: older builds refuse the store.
            try layout.raiseFormat(to: StoreLayout.schemaFormatVersion, in: txn)
            schemaFormatRaised = true
        }
        let size = RecordCodec.encodedSize(keyCount: key.count, event: event)
        try BigEndianKey(position).withBytes { positionBytes in
            try txn.putReserved(layout.records, positionBytes, size: size, flags: MDB_APPEND) { buffer in
                RecordCodec.encode(into: buffer, position: position, version: version, previous: previous,
                                   timestampMicros: timestampMicros, key: key, event: event, flags: flags)
            }
            if let id = event.id {
                try id.withUTF8Bytes { idBytes in
                    try txn.put(layout.ids, idBytes, positionBytes, flags: MDB_NOOVERWRITE)
                }
            }
        }
    }

    /// Writes records copied from another store, at their own positions, versions, ids and
    /// timestamps: the first must be at `head + 1`, each key's version must follow the key's
    /// current one, and no id may be stored already. The first replicated batch marks the store
    /// as a replica of `source` (it must be empty then); a replica takes no other source.
    /// Every check happens before the first put, so a refused batch writes nothing.
    mutating func replicate(_ records: [Record], from source: UUID, in txn: Transaction) throws -> Result<Void, KirokuError> {
        let sourceName = source.uuidString.lowercased()
        let replicaOf = try replicaSource(in: txn)
        if let replicaOf, replicaOf != source {
            return .failure(KirokuError(.replicaDiverged, "This store replicates store \(replicaOf.uuidString.lowercased()), not \(sourceName); mirror each source into a store of its own."))
        }
        if replicaOf == nil && head > 0 {
            return .failure(KirokuError(.replicaDiverged, "This store has \(head) records of its own, so it cannot become a replica of store \(sourceName); mirror into a new, empty store."))
        }
        var versions: [ExactString: UInt64] = [:]
        var ids = Set<ExactString>()
        var expectedPosition = head + 1
        for record in records {
            guard record.position == expectedPosition else {
                return .failure(KirokuError(.replicaDiverged, "A replicated record is at position \(record.position) but the replica's next position is \(expectedPosition); a replica takes records only in order, from its head + 1. Restart the mirror: it resumes from the replica's head.", position: record.position))
            }
            expectedPosition += 1
            try EventLog.validate(key: record.key)
            let key = ExactString(record.key)
            let current = try versions[key] ?? currentVersion(of: record.key, in: txn)
            guard record.version == current + 1 else {
                return .failure(KirokuError(.replicaDiverged, "The record at position \(record.position) is version \(record.version) of key '\(record.key)', but the replica holds that key at version \(current); the replica no longer matches its source. Mirror into a new, empty store.", key: record.key, position: record.position, actualVersion: current))
            }
            versions[key] = record.version
            if let id = record.id {
                if try storedPosition(ofId: id, in: txn) != nil || !ids.insert(ExactString(id)).inserted {
                    return .failure(KirokuError(.replicaDiverged, "The record at position \(record.position) carries id '\(id)', which the replica already holds; the replica no longer matches its source. Mirror into a new, empty store.", key: record.key, position: record.position))
                }
            }
        }
        if replicaOf == nil {
            try StoreLayout.setReplicaSource(source, layout: layout, in: txn)
            self.replicaOf = .some(source)
        }
        let index = KeyIndex(layout: layout)
        for record in records {
            let micros = Int64((record.timestamp.timeIntervalSince1970 * 1_000_000).rounded())
            try record.key.withUTF8Bytes { key in
                let entry = try index.entry(key, in: txn)
                head += 1
                try put(EventData(type: record.type, payload: record.payload, metadata: record.metadata, id: record.id,
                                  schemaVersion: record.schemaVersion),
                        key: key, version: record.version, previous: entry?.latest.position ?? 0, position: head,
                        timestampMicros: micros, flags: RecordCodec.flags(of: record), in: txn)
                try index.noteVersion(key, version: record.version, position: head, in: txn)
                var moved = entry ?? KeyEntry(latest: VersionPosition(version: record.version, position: head))
                moved.latest = VersionPosition(version: record.version, position: head)
                if let deletion = record.deletion {
                    // The source's deletion (or erasure) is applied here too.
                    try Lifecycle.noteDeletion(key, entry: &moved, hard: deletion == .hard, erase: record.isErased, layout: layout, in: txn)
                }
                try index.setEntry(key, moved, in: txn)
            }
        }
        return .success(())
    }

    /// The key's current version (0: no events).
    func currentVersion(of key: String, in txn: Transaction) throws -> UInt64 {
        try KeyIndex(layout: layout).currentVersion(of: key, in: txn)
    }

    /// What ``earlierAppend(_:in:)`` found.
    private enum EarlierAppend {
        /// The whole request repeats one earlier append: its result.
        case repeated([AppendResult])
        /// The request's first id is not stored (so it repeats nothing).
        case firstIdAbsent
        /// The first id is stored, but the request is not a repeat of one append.
        case notARepeat
    }

    /// Whether the whole request repeats one earlier append exactly (its events stored at
    /// consecutive positions, in request order, byte for byte, including those without ids).
    private func earlierAppend(_ groups: [AppendGroup], in txn: Transaction) throws -> EarlierAppend {
        // The first event that has an id locates the whole earlier request.
        var offset: UInt64 = 0
        var anchor: UInt64?
        search: for group in groups {
            for event in group.events {
                if let id = event.id {
                    guard let position = try storedPosition(ofId: id, in: txn) else { return .firstIdAbsent }
                    anchor = position
                    break search
                }
                offset += 1
            }
        }
        guard let anchor, anchor > offset else { return .notARepeat }
        var position = anchor - offset
        var results: [AppendResult] = []
        for group in groups {
            var stored: [StoredEvent] = []
            for event in group.events {
                let version: UInt64? = try BigEndianKey(position).withBytes { positionBytes in
                    guard let bytes = try txn.get(layout.records, positionBytes),
                          let view = try? RecordCodec.view(position: position, bytes: bytes),
                          view.difference(key: group.key, event: event) == nil else { return nil }
                    return view.version
                }
                guard let version else { return .notARepeat }
                stored.append(StoredEvent(position: position, version: version, isRepeat: true))
                position += 1
            }
            results.append(AppendResult(key: group.key, events: stored))
        }
        return .repeated(results)
    }

    private func storedPosition(ofId id: String, in txn: Transaction) throws -> UInt64? {
        try id.withUTF8Bytes { idBytes in
            try txn.get(layout.ids, idBytes).map { BigEndianKey.value($0) }
        }
    }
}
