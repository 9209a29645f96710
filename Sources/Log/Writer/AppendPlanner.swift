import CLMDB
import Foundation

/// Applies one append request inside the writer's transaction: the idempotency check, the
/// expected-version checks, then the puts. Every check is a read that happens before any put,
/// so a request that fails leaves nothing behind and its batch goes on without it.
struct AppendPlanner {
    let layout: StoreLayout
    /// The last position committed or written so far in this transaction.
    var head: UInt64
    let timestampMicros: Int64

    /// Applies one request. A `.failure` fails this request alone (the batch commits the
    /// others); a thrown error (map full, I/O) fails the whole transaction.
    mutating func apply(_ groups: [AppendGroup], in txn: Transaction) throws -> Result<[AppendResult], KirokuError> {
        if let earlier = try findEarlierAppend(groups, in: txn) {
            return earlier
        }
        // Plan: check every group's expectation against the key's version, as left by earlier
        // requests of this batch and earlier groups of this request.
        var versions: [String: UInt64] = [:]
        var planned: [(group: AppendGroup, firstVersion: UInt64)] = []
        planned.reserveCapacity(groups.count)
        for group in groups {
            let current: UInt64
            if let pending = versions[group.key] { current = pending } else { current = try currentVersion(of: group.key, in: txn) }
            guard group.expected.isSatisfied(byCurrentVersion: current) else {
                return .failure(KirokuError(
                    .versionConflict,
                    "Key '\(group.key)' is at version \(current) but the append expected \(group.expected); read the key again and retry with its current version.",
                    key: group.key, expectedVersion: group.expected, actualVersion: current))
            }
            planned.append((group, current + 1))
            versions[group.key] = current + UInt64(group.events.count)
        }
        // Write. Each group reads its key's latest entry again: an earlier group of this
        // request may have moved it.
        let index = KeyIndex(layout: layout)
        var results: [AppendResult] = []
        results.reserveCapacity(planned.count)
        for (group, firstVersion) in planned {
            let firstPosition = head + 1
            try group.key.withUTF8Bytes { key in
                var previous = try index.latest(key, in: txn)?.position ?? 0
                var version = firstVersion
                for event in group.events {
                    head += 1
                    try put(event, key: key, version: version, previous: previous, position: head, in: txn)
                    try index.noteVersion(key, version: version, position: head, in: txn)
                    previous = head
                    version += 1
                }
                try index.setLatest(key, VersionPosition(version: version - 1, position: head), in: txn)
            }
            results.append(AppendResult(key: group.key, positions: firstPosition...head,
                                        versions: firstVersion...(firstVersion + UInt64(group.events.count) - 1)))
        }
        return .success(results)
    }

    private func put(_ event: EventData, key: UnsafeRawBufferPointer, version: UInt64, previous: UInt64, position: UInt64, in txn: Transaction) throws {
        let size = RecordCodec.encodedSize(keyCount: key.count, event: event)
        try BigEndianKey(position).withBytes { positionBytes in
            try txn.putReserved(layout.records, positionBytes, size: size, flags: MDB_APPEND) { buffer in
                RecordCodec.encode(into: buffer, position: position, version: version, previous: previous,
                                   timestampMicros: timestampMicros, key: key, event: event)
            }
            if let id = event.id {
                try id.withUTF8Bytes { idBytes in
                    try txn.put(layout.ids, idBytes, positionBytes, flags: MDB_NOOVERWRITE)
                }
            }
        }
    }

    /// The key's current version (0: no events).
    func currentVersion(of key: String, in txn: Transaction) throws -> UInt64 {
        try Self.currentVersion(of: key, layout: layout, in: txn)
    }

    static func currentVersion(of key: String, layout: StoreLayout, in txn: Transaction) throws -> UInt64 {
        try key.withUTF8Bytes { try KeyIndex(layout: layout).latest($0, in: txn)?.version ?? 0 }
    }

    /// When the request's ids are stored already, the result of the append that stored them
    /// (a retry is never a conflict with itself); `nil` when none is stored.
    private func findEarlierAppend(_ groups: [AppendGroup], in txn: Transaction) throws -> Result<[AppendResult], KirokuError>? {
        // The first event that has an id locates the whole earlier request: its events were
        // stored at consecutive positions, in request order.
        var offset: UInt64 = 0
        var anchor: (id: String, position: UInt64, offset: UInt64)?
        search: for group in groups {
            for event in group.events {
                if let id = event.id, let position = try storedPosition(ofId: id, in: txn) {
                    anchor = (id, position, offset)
                    break search
                }
                offset += 1
            }
        }
        // The search looked at every id: none is stored, so this is a new append.
        guard let anchor else { return nil }
        let duplicate = { (detail: String) -> Result<[AppendResult], KirokuError> in
            .failure(KirokuError(
                .duplicateEventId,
                "Event id '\(anchor.id)' is already stored at position \(anchor.position) by a different append (\(detail)); give new events new ids, or repeat the original append exactly to get its result.",
                position: anchor.position))
        }
        guard anchor.position > anchor.offset else { return duplicate("it cannot be the start of this append") }
        var position = anchor.position - anchor.offset
        var results: [AppendResult] = []
        for group in groups {
            var versions: ClosedRange<UInt64>?
            let first = position
            for event in group.events {
                let matches: Bool? = try BigEndianKey(position).withBytes { positionBytes in
                    guard let bytes = try txn.get(layout.records, positionBytes) else { return nil }
                    let view = try RecordCodec.view(position: position, bytes: bytes)
                    guard view.keyEquals(group.key),
                          try view.string(view.typeRange) == event.type,
                          try view.id == event.id else { return false }
                    versions = versions.map { $0.lowerBound...view.version } ?? view.version...view.version
                    return true
                }
                guard matches == true else {
                    return duplicate("the stored events differ from this append at position \(position)")
                }
                position += 1
            }
            guard let versions else { continue }
            results.append(AppendResult(key: group.key, positions: first...(position - 1), versions: versions))
        }
        return .success(results)
    }

    private func storedPosition(ofId id: String, in txn: Transaction) throws -> UInt64? {
        try id.withUTF8Bytes { idBytes in
            try txn.get(layout.ids, idBytes).map { BigEndianKey.value($0) }
        }
    }
}
