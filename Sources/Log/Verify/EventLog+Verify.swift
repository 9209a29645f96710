import CLMDB

extension EventLog {
    /// Walks the whole store and reports every inconsistency: a gap in positions, a record that
    /// fails its checksum, a record whose link to its key's previous record is broken (a gap in
    /// the key's versions), a key index or version index entry that disagrees with the records,
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
        var keyResume: [UInt8]?
        more = true
        while more {
            more = try withReadTransaction { txn in
                try verifyIndex(layout.keys, resume: &keyResume, limit: chunk, report: &report, in: txn)
            }
        }
        var versionResume: [UInt8]?
        more = true
        while more {
            more = try withReadTransaction { txn in
                try verifyIndex(layout.versionIndex, resume: &versionResume, limit: chunk, report: &report, in: txn)
            }
        }
        var idResume: [UInt8]?
        more = true
        while more {
            more = try withReadTransaction { txn in try verifyIds(resume: &idResume, limit: chunk, report: &report, in: txn) }
        }
        // Once records were removed, positions have gaps: the count must add up instead (in
        // one transaction, so appends and removals meanwhile cannot skew it).
        try withReadTransaction { txn in
            let removed = try layout.counter(Lifecycle.removedRecordsKey, in: txn)
            guard removed > 0 else { return }
            let head = try layout.headPosition(in: txn)
            let stored = UInt64(try txn.entryCount(layout.records))
            if stored + removed != head {
                report.problems.append(.init(kind: .gap, position: nil, key: nil,
                    message: "the log holds \(stored) records and retention removed \(removed), but its head is position \(head): \(stored + removed > head ? "more" : "fewer") records than appended"))
            }
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
                // Removed records leave gaps; the count is checked at the end instead.
                if position != next, try layout.counter(Lifecycle.removedRecordsKey, in: txn) == 0 {
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
                try checkLinks(view, at: position, key: key, report: &report, in: txn)
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

    /// Checks a record's place in its key's history: the link to the previous version, the
    /// key's latest entry, and its version-index entry when it should have one.
    private func checkLinks(_ view: RecordCodec.View, at position: UInt64, key: String?, report: inout VerifyReport, in txn: Transaction) throws {
        let keyBytes = UnsafeRawBufferPointer(rebasing: view.bytes[view.keyRange])
        let index = KeyIndex(layout: layout)
        let entry = try? index.entry(keyBytes, in: txn)
        if let entry, view.version < entry.lowestPresent {
            report.problems.append(.init(kind: .indexMismatch, position: position, key: key,
                message: "version \(view.version) is stored, but the key index says versions below \(entry.lowestPresent) were removed"))
        } else if let entry, view.version == entry.lowestPresent, view.version > 1 {
            // The key's lowest stored version: its link points at a removed record.
            if view.previous == 0 || view.previous >= position {
                report.problems.append(.init(kind: .versionGap, position: position, key: key,
                    message: "version \(view.version) has no valid link to version \(view.version - 1)"))
            }
        } else if view.version == 1 {
            if view.previous != 0 {
                report.problems.append(.init(kind: .versionGap, position: position, key: key,
                    message: "version 1 links to a previous record at position \(view.previous)"))
            }
        } else if view.previous == 0 || view.previous >= position {
            report.problems.append(.init(kind: .versionGap, position: position, key: key,
                message: "version \(view.version) has no valid link to version \(view.version - 1)"))
        } else if (try? index.record(at: view.previous, key: keyBytes, version: view.version - 1, in: txn)) == nil {
            report.problems.append(.init(kind: .versionGap, position: position, key: key,
                message: "version \(view.version - 1) is not at position \(view.previous), where version \(view.version) links"))
        }
        let latest = entry?.latest
        if let latest, latest.version > view.version || (latest.version == view.version && latest.position == position) {
            // Consistent: a later version, or this one.
        } else {
            report.problems.append(.init(kind: .indexMismatch, position: position, key: key,
                message: "the key index says the key's latest is \(latest.map { "version \($0.version) at position \($0.position)" } ?? "nothing"), but version \(view.version) is stored here"))
        }
        if view.version % KeyIndex.stride == 0 {
            let indexed = try KeyIndex.withIndexKey(keyBytes, version: view.version) { indexKey in
                try txn.get(layout.versionIndex, indexKey).map { BigEndianKey.value($0) }
            }
            if indexed != position {
                report.problems.append(.init(kind: .indexMismatch, position: position, key: key,
                    message: "the version index has \(indexed.map { "position \($0)" } ?? "no entry") for version \(view.version)"))
            }
        }
    }

    /// Checks that every entry of the key index or the version index points at the record it names.
    private func verifyIndex(_ dbi: MDB_dbi, resume: inout [UInt8]?, limit: Int, report: inout VerifyReport, in txn: Transaction) throws -> Bool {
        try visitChunk(dbi, resume: &resume, limit: limit, in: txn) { current in
            report.keysChecked += 1
            let keyBytes: UnsafeRawBufferPointer
            let expected: VersionPosition?
            if dbi == layout.keys {
                keyBytes = current.key
                let entry = KeyEntry(current.value)
                expected = entry?.latest
                // Every version of the key was removed: its entry keeps the version count only.
                if let entry, entry.lowestPresent > entry.latest.version { return }
            } else if current.key.count > 8, current.value.count == 8 {
                keyBytes = UnsafeRawBufferPointer(rebasing: current.key[..<(current.key.count - 8)])
                expected = VersionPosition(version: BigEndianKey.value(current.key, at: current.key.count - 8),
                                           position: BigEndianKey.value(current.value))
            } else {
                keyBytes = current.key
                expected = nil
            }
            let key = String(decoding: keyBytes, as: UTF8.self)
            let name = dbi == layout.keys ? "key index" : "version index"
            if let expected {
                if (try? KeyIndex(layout: layout).record(at: expected.position, key: keyBytes, version: expected.version, in: txn)) == nil {
                    report.problems.append(.init(kind: .indexMismatch, position: expected.position, key: key,
                        message: "the \(name) says version \(expected.version) is here, but no valid record of this key and version is"))
                }
            } else {
                report.problems.append(.init(kind: .indexMismatch, position: nil, key: key, message: "a \(name) entry has the wrong size"))
            }
        }
    }

    private func verifyIds(resume: inout [UInt8]?, limit: Int, report: inout VerifyReport, in txn: Transaction) throws -> Bool {
        try visitChunk(layout.ids, resume: &resume, limit: limit, in: txn) { current in
            report.idsChecked += 1
            let id = String(decoding: current.key, as: UTF8.self)
            guard current.value.count == 8 else {
                report.problems.append(.init(kind: .idMismatch, position: nil, key: nil, message: "the id index entry of '\(id)' is \(current.value.count) bytes, not 8"))
                return
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
        }
    }

    /// Visits up to `limit` entries of `dbi`, from `resume` (or the first entry), and leaves
    /// `resume` at the first entry not visited. Returns whether entries are left.
    private func visitChunk(_ dbi: MDB_dbi, resume: inout [UInt8]?, limit: Int, in txn: Transaction,
                            _ visit: (Cursor.Entry) throws -> Void) throws -> Bool {
        try txn.withCursor(dbi) { cursor in
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
                try visit(current)
                entry = try cursor.get(MDB_NEXT)
            }
            return false
        }
    }
}
