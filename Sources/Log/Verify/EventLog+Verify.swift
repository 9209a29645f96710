import CLMDB

extension EventLog {
    /// Walks the whole store and reports every inconsistency: a gap in positions, a record that
    /// fails its checksum, a record and key index that disagree, a key whose versions have gaps,
    /// an idempotency id that points at the wrong record.
    ///
    /// Runs in read transactions of at most `chunkSize` entries each, so it never pins old pages
    /// for long and can run while the log takes appends (records appended meanwhile may or may
    /// not be checked). It does not change the store.
    public func verify(chunkSize: Int = 10_000) throws -> VerifyReport {
        var report = VerifyReport()
        let chunk = max(1, chunkSize)
        var nextPosition: UInt64 = 1
        var more = true
        while more {
            more = try withReadTransaction { txn in try verifyRecords(from: &nextPosition, limit: chunk, report: &report, in: txn) }
        }
        var keyResume: (key: [UInt8], version: UInt64)?
        var lastKey: [UInt8]?
        var lastVersion: UInt64 = 0
        more = true
        while more {
            more = try withReadTransaction { txn in
                try verifyKeys(resume: &keyResume, lastKey: &lastKey, lastVersion: &lastVersion, limit: chunk, report: &report, in: txn)
            }
        }
        var idResume: [UInt8]?
        more = true
        while more {
            more = try withReadTransaction { txn in try verifyIds(resume: &idResume, limit: chunk, report: &report, in: txn) }
        }
        return report
    }

    private func verifyRecords(from next: inout UInt64, limit: Int, report: inout VerifyReport, in txn: Transaction) throws -> Bool {
        try txn.withCursor(layout.records) { cursor in
            var entry = try BigEndianKey(next).withBytes { try cursor.get(MDB_SET_RANGE, key: $0) }
            var count = 0
            while let current = entry {
                if count == limit { return true }
                count += 1
                report.recordsChecked += 1
                guard current.key.count == 8 else {
                    report.problems.append(.init(kind: .badRecord, position: nil, key: nil, message: "a record key is \(current.key.count) bytes, not 8"))
                    entry = try cursor.get(MDB_NEXT)
                    continue
                }
                let position = BigEndianKey.value(current.key)
                if position != next {
                    report.problems.append(.init(kind: .gap, position: next, key: nil,
                        message: position > next ? "positions \(next)...\(position - 1) are missing" : "position \(position) is out of order"))
                }
                next = position + 1
                report.headPosition = max(report.headPosition, position)
                let view: RecordCodec.View
                do {
                    view = try RecordCodec.view(position: position, bytes: current.value)
                } catch {
                    report.problems.append(.init(kind: .badRecord, position: position, key: nil, message: "the record is damaged: \(error)"))
                    entry = try cursor.get(MDB_NEXT)
                    continue
                }
                let key = try? view.key
                let indexed: Bool = try txn.withCursor(layout.keys) { keys in
                    try VersionPosition(version: view.version, position: position).withBytes { pair in
                        try keys.get(MDB_GET_BOTH, key: UnsafeRawBufferPointer(rebasing: view.bytes[view.keyRange]), value: pair) != nil
                    }
                }
                if !indexed {
                    report.problems.append(.init(kind: .indexMismatch, position: position, key: key,
                        message: "the record (version \(view.version)) has no entry in the key index"))
                }
                if let id = try? view.id {
                    let stored = try id.withUTF8Bytes { try txn.get(layout.ids, $0).map { BigEndianKey.value($0) } }
                    if stored != position {
                        report.problems.append(.init(kind: .idMismatch, position: position, key: key,
                            message: "the record's id '\(id)' maps to \(stored.map { "position \($0)" } ?? "nothing") in the id index"))
                    }
                }
                entry = try cursor.get(MDB_NEXT)
            }
            return false
        }
    }

    private func verifyKeys(resume: inout (key: [UInt8], version: UInt64)?, lastKey: inout [UInt8]?, lastVersion: inout UInt64,
                            limit: Int, report: inout VerifyReport, in txn: Transaction) throws -> Bool {
        try txn.withCursor(layout.keys) { cursor in
            var entry: Cursor.Entry?
            if let resume {
                entry = try resume.key.withUnsafeBytes { key in
                    try VersionPosition(version: resume.version, position: 0).withBytes { probe in
                        try cursor.get(MDB_GET_BOTH_RANGE, key: key, value: probe)
                    }
                }
                // The key's entries from `version` on are gone only if the store changed under
                // us in a way appends never do; continue with the next key.
                if entry == nil { entry = try resume.key.withUnsafeBytes { try cursor.get(MDB_SET_RANGE, key: $0) } }
            } else {
                entry = try cursor.get(MDB_FIRST)
            }
            var count = 0
            while let current = entry {
                guard let pair = VersionPosition(current.value) else {
                    report.problems.append(.init(kind: .indexMismatch, position: nil, key: String(decoding: current.key, as: UTF8.self),
                        message: "a key index entry is \(current.value.count) bytes, not 16"))
                    entry = try cursor.get(MDB_NEXT)
                    continue
                }
                if count == limit {
                    resume = (Array(current.key), pair.version)
                    return true
                }
                count += 1
                report.keyEntriesChecked += 1
                let keyBytes = Array(current.key)
                let key = String(decoding: keyBytes, as: UTF8.self)
                if keyBytes != lastKey {
                    lastKey = keyBytes
                    lastVersion = 0
                }
                if pair.version != lastVersion + 1 {
                    report.problems.append(.init(kind: .versionGap, position: pair.position, key: key,
                        message: "version \(pair.version) follows version \(lastVersion)"))
                }
                lastVersion = pair.version
                let matches: Bool = try BigEndianKey(pair.position).withBytes { positionKey in
                    guard let bytes = try txn.get(layout.records, positionKey),
                          let view = try? RecordCodec.view(position: pair.position, bytes: bytes) else { return false }
                    return view.version == pair.version && keyBytes.elementsEqual(UnsafeRawBufferPointer(rebasing: view.bytes[view.keyRange]))
                }
                if !matches {
                    report.problems.append(.init(kind: .indexMismatch, position: pair.position, key: key,
                        message: "the key index says version \(pair.version) is at this position, but no valid record of this key and version is there"))
                }
                entry = try cursor.get(MDB_NEXT)
            }
            return false
        }
    }

    private func verifyIds(resume: inout [UInt8]?, limit: Int, report: inout VerifyReport, in txn: Transaction) throws -> Bool {
        try txn.withCursor(layout.ids) { cursor in
            var entry: Cursor.Entry?
            if let resume {
                entry = try resume.withUnsafeBytes { try cursor.get(MDB_SET_RANGE, key: $0) }
            } else {
                entry = try cursor.get(MDB_FIRST)
            }
            var count = 0
            while let current = entry {
                if count == limit {
                    resume = Array(current.key)
                    return true
                }
                count += 1
                report.idsChecked += 1
                let id = String(decoding: current.key, as: UTF8.self)
                guard current.value.count == 8 else {
                    report.problems.append(.init(kind: .idMismatch, position: nil, key: nil, message: "the id index entry of '\(id)' is \(current.value.count) bytes, not 8"))
                    entry = try cursor.get(MDB_NEXT)
                    continue
                }
                let position = BigEndianKey.value(current.value)
                let matches: Bool = try BigEndianKey(position).withBytes { positionKey in
                    guard let bytes = try txn.get(layout.records, positionKey),
                          let view = try? RecordCodec.view(position: position, bytes: bytes),
                          let idRange = view.idRange else { return false }
                    return current.key.elementsEqual(UnsafeRawBufferPointer(rebasing: view.bytes[idRange]))
                }
                if !matches {
                    report.problems.append(.init(kind: .idMismatch, position: position, key: nil,
                        message: "id '\(id)' points at a record that does not carry it"))
                }
                entry = try cursor.get(MDB_NEXT)
            }
            return false
        }
    }
}
