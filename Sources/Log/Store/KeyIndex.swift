import CLMDB

/// How a key's history is found: each record points at its key's previous record (`previous`
/// in the record header), the `keys` database holds each key's latest (version, position), and
/// `version-index` holds the position of every ``stride``-th version.
///
/// Why not one index entry per event: under group commit, an append of N events to N keys then
/// rewrote N index pages besides the records' own, and the bytes written per commit, not the
/// fsyncs, bounded throughput (measured: 7.7 KB written per event at 64 appenders). Now an
/// event writes its record (appended, sequential) and updates its key's single latest entry;
/// one event in ``stride`` also writes a version-index entry. A read of versions `a...b` starts
/// at the nearest indexed version at or above `b` and walks back at most `stride - 1` records
/// before the ones it returns.
struct KeyIndex {
    /// One version in this many has a version-index entry.
    static let stride: UInt64 = 16

    let layout: StoreLayout

    /// The key's current version (0: no events).
    func currentVersion(of key: String, in txn: Transaction) throws -> UInt64 {
        try key.withUTF8Bytes { try latest($0, in: txn)?.version ?? 0 }
    }

    /// The key's latest (version, position), or `nil` when it has no events.
    func latest(_ key: UnsafeRawBufferPointer, in txn: Transaction) throws -> VersionPosition? {
        try entry(key, in: txn)?.latest
    }

    /// The key's entry, or `nil` when it has no events.
    func entry(_ key: UnsafeRawBufferPointer, in txn: Transaction) throws -> KeyEntry? {
        guard let bytes = try txn.get(layout.keys, key) else { return nil }
        guard let entry = KeyEntry(bytes) else {
            throw KirokuError(.corruption, "The key index entry of '\(String(decoding: key, as: UTF8.self))' is damaged; run verify.",
                              key: String(decoding: key, as: UTF8.self))
        }
        return entry
    }

    func setEntry(_ key: UnsafeRawBufferPointer, _ entry: KeyEntry, in txn: Transaction) throws {
        try entry.withBytes { try txn.put(layout.keys, key, $0) }
    }

    /// Removes the version-index entry of `version`, when it has one.
    func forgetVersion(_ key: UnsafeRawBufferPointer, version: UInt64, in txn: Transaction) throws {
        guard version % Self.stride == 0 else { return }
        try Self.withIndexKey(key, version: version) { try txn.delete(layout.versionIndex, $0) }
    }

    /// Records `position` for `version` when the version is one the index keeps.
    func noteVersion(_ key: UnsafeRawBufferPointer, version: UInt64, position: UInt64, in txn: Transaction) throws {
        guard version % Self.stride == 0 else { return }
        try Self.withIndexKey(key, version: version) { indexKey in
            try BigEndianKey(position).withBytes { try txn.put(layout.versionIndex, indexKey, $0) }
        }
    }

    /// The position of `version` of the key (1 ≤ version ≤ latest.version).
    func position(of version: UInt64, key: UnsafeRawBufferPointer, latest: VersionPosition, in txn: Transaction) throws -> UInt64 {
        if version == latest.version { return latest.position }
        let indexed = (version + Self.stride - 1) / Self.stride * Self.stride
        var current = latest
        if indexed < latest.version {
            let found = try Self.withIndexKey(key, version: indexed) { indexKey in
                try txn.get(layout.versionIndex, indexKey).map { BigEndianKey.value($0) }
            }
            guard let found else {
                throw damaged(key, "version \(indexed) is missing from the version index")
            }
            current = VersionPosition(version: indexed, position: found)
        }
        while current.version > version {
            let view = try record(at: current.position, key: key, version: current.version, in: txn)
            current = VersionPosition(version: current.version - 1, position: view.previous)
        }
        return current.position
    }

    /// The record at `position`, checked (checksum, key, version) against what the chain expects.
    func record(at position: UInt64, key: UnsafeRawBufferPointer, version: UInt64, in txn: Transaction) throws -> RecordCodec.View {
        let bytes = try BigEndianKey(position).withBytes { try txn.get(layout.records, $0) }
        guard let bytes else {
            throw damaged(key, "version \(version) should be at position \(position), which holds no record", position: position)
        }
        let view: RecordCodec.View
        do {
            view = try RecordCodec.view(position: position, bytes: bytes)
        } catch {
            throw KirokuError(.corruption, "The record at position \(position) is damaged (\(error)); run verify, and restore from a copy if it reports problems.",
                              key: String(decoding: key, as: UTF8.self), position: position)
        }
        guard view.version == version, key.elementsEqual(UnsafeRawBufferPointer(rebasing: view.bytes[view.keyRange])) else {
            throw damaged(key, "position \(position) should hold version \(version) of this key", position: position)
        }
        return view
    }

    private func damaged(_ key: UnsafeRawBufferPointer, _ what: String, position: UInt64? = nil) -> KirokuError {
        let name = String(decoding: key, as: UTF8.self)
        return KirokuError(.corruption, "The history of key '\(name)' is damaged: \(what); run verify.", key: name, position: position)
    }

    /// Runs `body` with the version-index key: the key's UTF-8 followed by the version (8 bytes BE).
    static func withIndexKey<T>(_ key: UnsafeRawBufferPointer, version: UInt64, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var bytes = [UInt8](key)
        withUnsafeBytes(of: version.bigEndian) { bytes.append(contentsOf: $0) }
        return try bytes.withUnsafeBytes(body)
    }
}

/// A key's entry in `keys`: its latest (version, position) and, once deletions or retention
/// touched it, the first version reads return, the lowest version still stored, and whether
/// a hard delete closed it. 16 bytes (version, position BE) while the extras are at their
/// defaults, else 33: + first visible (8 BE), lowest stored (8 BE), flags (bit 0: closed).
///
/// The invariant retention keeps: a key's stored records are exactly versions
/// `lowestPresent ... latest.version`, so its chain of previous-record links is whole down
/// to `lowestPresent` (whose own link points at a removed record).
struct KeyEntry: Equatable {
    var latest: VersionPosition
    /// Versions below this are hidden by a deletion (and being removed).
    var firstVisible: UInt64 = 1
    /// Versions below this were removed.
    var lowestPresent: UInt64 = 1
    /// A hard delete closed the key: no append may write to it.
    var isClosed = false

    init(latest: VersionPosition) {
        self.latest = latest
    }

    init?(_ buffer: UnsafeRawBufferPointer) {
        guard buffer.count == 16 || buffer.count == 33 else { return nil }
        latest = VersionPosition(version: BigEndianKey.value(buffer, at: 0), position: BigEndianKey.value(buffer, at: 8))
        if buffer.count == 33 {
            firstVisible = BigEndianKey.value(buffer, at: 16)
            lowestPresent = BigEndianKey.value(buffer, at: 24)
            isClosed = buffer[32] & 1 != 0
        }
    }

    /// The first version a read returns (past the latest when none is left).
    var firstReadable: UInt64 { max(firstVisible, lowestPresent) }
    /// Whether no version is left to read (deleted or removed).
    var isEmpty: Bool { firstReadable > latest.version }

    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(33)
        for value in [latest.version, latest.position] { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
        if firstVisible != 1 || lowestPresent != 1 || isClosed {
            for value in [firstVisible, lowestPresent] { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
            bytes.append(isClosed ? 1 : 0)
        }
        return try bytes.withUnsafeBytes(body)
    }
}
