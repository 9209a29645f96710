import CLMDB
import Foundation

extension EventLog {
    /// Which way a per-key read walks the key's versions.
    public enum Direction: Sendable, Hashable {
        /// Oldest first, from the given version up.
        case forward
        /// Newest first, from the given version down.
        case backward
    }

    /// The position of the last committed record; `0` when the log is empty.
    public func headPosition() throws -> UInt64 {
        try withReadTransaction { txn in try layout.headPosition(in: txn) }
    }

    /// The key's current version (its last event's version), or `nil` when it has no events.
    public func currentVersion(of key: String) throws -> UInt64? {
        try Self.validate(key: key)
        let version = try withReadTransaction { txn in
            try KeyIndex(layout: layout).currentVersion(of: key, in: txn)
        }
        return version == 0 ? nil : version
    }

    /// The store's identity: a UUID made when the store was created, the same in every process
    /// that opens it and in a copy of it, different in any other store.
    public var storeId: UUID { layout.storeId }

    /// The checksum stored with the record at `position` (its XXH64, seeded with the position),
    /// or `nil` when there is none. Layers above the log keep it beside a checkpoint, to notice
    /// a log that no longer holds what they applied (restored from an older copy, rolled back).
    public func recordChecksum(at position: UInt64) throws -> UInt64? {
        try withReadTransaction { txn in
            try BigEndianKey(position).withBytes { key in
                guard let bytes = try txn.get(layout.records, key), bytes.count >= RecordCodec.trailerSize else { return nil }
                return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - RecordCodec.trailerSize, as: UInt64.self))
            }
        }
    }

    /// The stored checksums of `count` records from `position` (fewer at the head), in one
    /// read transaction.
    package func recordChecksums(from position: UInt64, count: Int) throws -> [UInt64] {
        try scan(from: position, limit: count) { value, _ in
            UInt64(littleEndian: value.loadUnaligned(fromByteOffset: value.count - RecordCodec.trailerSize, as: UInt64.self))
        }
    }

    /// The record at `position`, or `nil` when there is none.
    ///
    /// - Throws: ``KirokuError/Code/corruption`` when the stored bytes fail their checksum.
    public func record(at position: UInt64) throws -> Record? {
        try withReadTransaction { txn in try Self.record(at: position, layout: layout, in: txn) }
            .map(options.upcasters.upcast)
    }

    /// The record at `position` as stored: in the schema it was written with (no upcasting).
    public func storedRecord(at position: UInt64) throws -> Record? {
        try withReadTransaction { txn in try Self.record(at: position, layout: layout, in: txn) }
    }

    /// Whether the record at `position` is exactly `event` appended to `key` (key, type, id,
    /// payload and metadata byte for byte, as an idempotent repeat is judged); `false` when
    /// there is no record there. For an import that resumes at positions it placed before.
    ///
    /// - Throws: ``KirokuError/Code/corruption`` when the stored bytes fail their checksum.
    package func holds(_ event: EventData, key: String, at position: UInt64) throws -> Bool {
        try withReadTransaction { txn in
            try BigEndianKey(position).withBytes { positionBytes in
                guard let bytes = try txn.get(layout.records, positionBytes) else { return false }
                return try RecordCodec.checkedView(position: position, bytes: bytes).difference(key: key, event: event) == nil
            }
        }
    }

    /// The position of the event that carries idempotency id `id`, or `nil` when none does
    /// (never stored, or removed by retention or a deletion).
    public func position(ofEventId id: String) throws -> UInt64? {
        guard !id.isEmpty, id.utf8.count <= Self.maxIdBytes else { return nil }
        return try withReadTransaction { txn in
            try id.withUTF8Bytes { try txn.get(layout.ids, $0).map { BigEndianKey.value($0) } }
        }
    }

    /// Up to `limit` events of one key, starting at version `from` (inclusive).
    ///
    /// Forward reads return versions `from, from+1, …`; backward reads `from, from-1, …`, where a
    /// `from` past the current version starts at the current version (`UInt64.max` means "from
    /// the newest"). Page through a long key by passing the version after (or before) the last
    /// one returned.
    public func read(key: String, from version: UInt64 = 1, direction: Direction = .forward, limit: Int = 1000) throws -> [Record] {
        try Self.validate(key: key)
        guard limit > 0 else { return [] }
        // Upcasting runs after the read transaction: user code never holds a snapshot open.
        return try options.upcasters.upcast(try withReadTransaction { txn in
            try key.withUTF8Bytes { keyBytes in
                let index = KeyIndex(layout: layout)
                guard let entry = try index.entry(keyBytes, in: txn) else { return [] }
                let latest = entry.latest
                // Versions below this were deleted, truncated or removed by retention.
                let readable = entry.firstReadable
                let first: UInt64
                let last: UInt64
                switch direction {
                case .forward:
                    first = max(version, readable)
                    guard first <= latest.version else { return [] }
                    last = min(latest.version, first + UInt64(limit) - 1)
                case .backward:
                    last = min(version, latest.version)
                    guard last >= readable else { return [] }
                    first = last - min(last - readable, UInt64(limit) - 1)
                }
                // Walk the chain from the newest wanted version down to the oldest.
                var position = try index.position(of: last, key: keyBytes, latest: latest, in: txn)
                var records: [Record] = []
                records.reserveCapacity(Int(last - first + 1))
                var current = last
                var type: String?
                while true {
                    let view = try index.record(at: position, key: keyBytes, version: current, in: txn)
                    let record = try Self.decode(view, at: position, key: key, type: type)
                    type = record.type
                    records.append(record)
                    if current == first { break }
                    position = view.previous
                    current -= 1
                }
                if direction == .forward { records.reverse() }
                return records
            }
        })
    }

    /// Up to `limit` records in log order, starting at global position `from` (inclusive).
    ///
    /// Page through the whole log by passing the last returned position plus one. Each call is
    /// one short read transaction, so a long scan never pins old pages.
    ///
    /// - Throws: ``KirokuError/Code/positionRemoved`` when `position` is past 1 and retention
    ///   removed records at or after it that the caller has not read (``removedThrough()``):
    ///   read from the beginning, or from after ``removedThrough()``.
    public func readAll(from position: UInt64 = 1, limit: Int = 1000) throws -> [Record] {
        try options.upcasters.upcast(readAllStored(from: position, limit: limit))
    }

    /// ``readAll(from:limit:)`` as stored: each record in the schema it was written with (no
    /// upcasting), as exports and copies want them.
    public func readAllStored(from position: UInt64 = 1, limit: Int = 1000) throws -> [Record] {
        try scan(from: position, limit: limit) { value, found in try Self.decode(value, at: found) }
    }

    /// Up to `limit` records in reverse log order (newest first), from the last record before
    /// `position` (exclusive; `UInt64.max` for the head). Page back by passing the last
    /// returned position.
    public func readAll(before position: UInt64, limit: Int = 1000) throws -> [Record] {
        guard limit > 0, position > 1 else { return [] }
        return try options.upcasters.upcast(try withReadTransaction { txn in
            var records: [Record] = []
            try txn.withCursor(layout.records) { cursor in
                // The first record at or after `position`, then back from it.
                var entry = try BigEndianKey(position).withBytes { try cursor.get(MDB_SET_RANGE, key: $0) }
                entry = try entry == nil ? cursor.get(MDB_LAST) : cursor.get(MDB_PREV)
                while let current = entry, records.count < limit {
                    let found = BigEndianKey.value(current.key)
                    if found >= position { entry = try cursor.get(MDB_PREV); continue }
                    records.append(try Self.decode(current.value, at: found))
                    entry = try cursor.get(MDB_PREV)
                }
            }
            return records
        })
    }

    /// The first position whose record was committed at or after `date`, or `nil` when every
    /// record is older. Commit timestamps grow with positions (each commit takes the clock when
    /// it is prepared, under the write lock), so this is a binary search: about 2 log₂(n)
    /// B-tree lookups in one read transaction.
    public func position(atOrAfter date: Date) throws -> UInt64? {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.up))
        return try withReadTransaction { txn in
            func at(_ position: UInt64) throws -> (position: UInt64, micros: Int64)? {
                try txn.withCursor(layout.records) { cursor in
                    guard let entry = try BigEndianKey(position).withBytes({ try cursor.get(MDB_SET_RANGE, key: $0) }) else { return nil }
                    let found = BigEndianKey.value(entry.key)
                    return (found, try RecordCodec.checkedView(position: found, bytes: entry.value).timestampMicros)
                }
            }
            let head = try layout.headPosition(in: txn)
            guard head > 0, let last = try at(head), last.micros >= micros else { return nil }
            // The lowest p whose first record at or after it is new enough (that timestamp grows
            // with p, also across positions retention removed); the answer is that record.
            var lo: UInt64 = 1, hi = head
            while lo < hi {
                let middle = lo + (hi - lo) / 2
                if let found = try at(middle), found.micros >= micros { hi = middle } else { lo = middle + 1 }
            }
            return try at(lo)?.position
        }
    }

    /// Like ``readAll(from:limit:)``, each record with the checksum stored beside it (the relay
    /// sends both, so a replica can check that it stored the same bytes).
    package func readAllWithChecksums(from position: UInt64, limit: Int) throws -> [(record: Record, checksum: UInt64)] {
        try scan(from: position, limit: limit) { value, found in
            (try Self.decode(value, at: found),
             UInt64(littleEndian: value.loadUnaligned(fromByteOffset: value.count - RecordCodec.trailerSize, as: UInt64.self)))
        }
    }

    /// Up to `limit` entries of `records` from `position`, each made by `transform` from its
    /// (checked) bytes and position, in one read transaction.
    private func scan<T>(from position: UInt64, limit: Int, _ transform: (UnsafeRawBufferPointer, UInt64) throws -> T) throws -> [T] {
        guard limit > 0 else { return [] }
        return try withReadTransaction { txn in
            if position > 1 {
                let removed = try layout.counter(Lifecycle.removedThroughKey, in: txn)
                if position <= removed {
                    throw KirokuError(.positionRemoved, "Position \(position) is no longer in the log: retention removed records up to position \(removed), and a reader from \(position) would miss them. Start after \(removed) (a consumer: kiroku consumers reset … --to \(removed)), or from the beginning, or rebuild the projection (it then holds what the log still has).", path: path, position: position)
                }
            }
            var records: [T] = []
            try txn.withCursor(layout.records) { cursor in
                var entry = try BigEndianKey(position).withBytes { try cursor.get(MDB_SET_RANGE, key: $0) }
                while let current = entry, records.count < limit {
                    guard current.key.count == 8 else {
                        throw KirokuError(.corruption, "A record key is not 8 bytes long; run verify.", path: path)
                    }
                    records.append(try transform(current.value, BigEndianKey.value(current.key)))
                    entry = try cursor.get(MDB_NEXT)
                }
            }
            return records
        }
    }

    /// Up to `limit` keys that start with `prefix`, in byte order, after `after` when given.
    ///
    /// Page through many keys by passing the last key returned as `after`.
    public func keys(prefix: String = "", after: String? = nil, limit: Int = 1000) throws -> [String] {
        guard limit > 0 else { return [] }
        return try withReadTransaction { txn in
            var keys: [String] = []
            try txn.withCursor(layout.keys) { cursor in
                // Byte order, as LMDB keeps the keys: `String`'s own `<` does not agree with it.
                let prefixBytes = Array(prefix.utf8)
                let start = Transaction.scanStart(prefix: prefixBytes, after: after.map { Array($0.utf8) })
                var entry: Cursor.Entry?
                if start.isEmpty {
                    entry = try cursor.get(MDB_FIRST)
                } else {
                    entry = try start.withUnsafeBytes { try cursor.get(MDB_SET_RANGE, key: $0) }
                }
                while let current = entry, keys.count < limit {
                    guard current.key.starts(with: prefixBytes) else { break }
                    guard let key = String(validating: current.key, as: UTF8.self) else {
                        throw KirokuError(.corruption, "A key in the key index is not valid UTF-8; run verify.", path: path)
                    }
                    if let after, key.utf8Equals(after) {} else { keys.append(key) }
                    entry = try cursor.get(MDB_NEXT)
                }
            }
            return keys
        }
    }

    // MARK: Helpers shared by reads and verify

    static func record(at position: UInt64, layout: StoreLayout, in txn: Transaction) throws -> Record? {
        try BigEndianKey(position).withBytes { key in
            guard let bytes = try txn.get(layout.records, key) else { return nil }
            return try decode(bytes, at: position)
        }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, at position: UInt64) throws -> Record {
        do {
            return try decode(RecordCodec.view(position: position, bytes: bytes), at: position)
        } catch let error as KirokuError {
            throw error
        } catch {
            throw KirokuError(.corruption, "The record at position \(position) is damaged (\(error)); run verify, and restore from a copy if it reports problems.", position: position)
        }
    }

    static func decode(_ view: RecordCodec.View, at position: UInt64, key: String? = nil, type: String? = nil) throws -> Record {
        do {
            return try view.record(position: position, key: key, type: type)
        } catch {
            throw KirokuError(.corruption, "The record at position \(position) is damaged (\(error)); run verify, and restore from a copy if it reports problems.", position: position)
        }
    }

    /// Runs `body` in a short read transaction, translating failures into ``KirokuError``.
    func withReadTransaction<T>(_ body: (Transaction) throws -> T) throws -> T {
        do {
            return try environment.read(body)
        } catch var error as KirokuError {
            error.path = error.path ?? path
            throw error
        } catch is EnvironmentClosed {
            throw KirokuError(.closed, "The log is closed; open it again to read.", path: path)
        } catch let status as LMDBStatus {
            throw KirokuError(status: status, path: path, doing: "reading")
        }
    }
}
