import Foundation

extension AppendPlanner {
    /// The event type a deletion marker carries (the flags are what count; the type is for
    /// people reading the log).
    static func markerType(_ deletion: Record.Deletion, erase: Bool) -> String {
        erase ? "$erased" : (deletion == .hard ? "$tombstone" : "$deleted")
    }

    /// Writes a deletion marker for `key` (soft, hard, or an erasure's) at the next position and
    /// version, hides the key's history and leaves its removal or erasure to the lifecycle
    /// steps. `nil` when there is nothing to do: a key with no events (a soft delete or
    /// erasure), one already closed, or one deleted with nothing written since.
    mutating func mark(_ key: String, deletion: Record.Deletion, erase: Bool, in txn: Transaction) throws -> Result<(StoredEvent?, covered: Int), KirokuError> {
        if let source = try replicaSourceForLifecycle(in: txn) {
            return .failure(KirokuError(
                .replicaReadOnly,
                "This store is a read replica of store \(source.uuidString.lowercased()); delete or erase the key in the source store: the mirror brings the deletion here and applies it.",
                key: key))
        }
        let index = KeyIndex(layout: layout)
        return try key.withUTF8Bytes { keyBytes in
            let existing = try index.entry(keyBytes, in: txn)
            if existing == nil && (deletion == .soft || erase) { return .success((nil, 0)) }
            if let existing, existing.isClosed { return .success((nil, 0)) }
            if let existing, !erase, deletion == .soft, existing.isEmpty, existing.firstVisible > 1 { return .success((nil, 0)) }
            let covered = existing.map { $0.latest.version >= $0.lowestPresent ? Int($0.latest.version - $0.lowestPresent + 1) : 0 } ?? 0
            let version = (existing?.latest.version ?? 0) + 1
            head += 1
            var flags = RecordCodec.deletionMarker
            if deletion == .hard { flags |= RecordCodec.hardDeletion }
            if erase { flags |= RecordCodec.erased }
            try put(EventData(type: Self.markerType(deletion, erase: erase), payload: Data()), key: keyBytes, version: version,
                    previous: existing?.latest.position ?? 0, position: head, timestampMicros: timestampMicros, flags: flags, in: txn)
            try index.noteVersion(keyBytes, version: version, position: head, in: txn)
            var entry = existing ?? KeyEntry(latest: VersionPosition(version: version, position: head))
            entry.latest = VersionPosition(version: version, position: head)
            try Lifecycle.noteDeletion(keyBytes, entry: &entry, hard: deletion == .hard, erase: erase, layout: layout, in: txn)
            try index.setEntry(keyBytes, entry, in: txn)
            return .success((StoredEvent(position: head, version: version, isRepeat: false), covered))
        }
    }

    /// Hides the key's versions below `version` at once and leaves their removal to the
    /// lifecycle steps (EventStoreDB's truncate-before). The latest version always stays.
    func truncate(_ key: String, before version: UInt64, in txn: Transaction) throws -> Result<Void, KirokuError> {
        let index = KeyIndex(layout: layout)
        return try key.withUTF8Bytes { keyBytes in
            guard var entry = try index.entry(keyBytes, in: txn) else { return .success(()) }
            let target = min(version, entry.latest.version)
            guard target > entry.firstVisible || target > entry.lowestPresent else { return .success(()) }
            entry.firstVisible = max(entry.firstVisible, target)
            try layout.raiseFormat(in: txn)
            try index.setEntry(keyBytes, entry, in: txn)
            if entry.lowestPresent < target {
                try Lifecycle.enqueue(.remove, key: keyBytes, target: target, next: entry.lowestPresent, layout: layout, in: txn)
            }
            return .success(())
        }
    }
}
