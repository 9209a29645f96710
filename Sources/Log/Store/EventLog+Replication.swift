import Foundation

extension EventLog {
    /// Writes records copied from another store (a read replica's mirror calls it), in one
    /// transaction, keeping their positions, versions, ids and timestamps.
    ///
    /// The records must start at this store's head + 1 and be consecutive; each key's version
    /// must follow the version the replica holds, and no id may be stored already. The first
    /// call marks an empty store as a replica of `source`; from then on the store takes records
    /// only from that source and refuses ordinary appends with
    /// ``KirokuError/Code/replicaReadOnly``. Its consumers, projections and search views run as
    /// on any store. Records keep their bytes, so each one's checksum
    /// (``recordChecksum(at:)``) equals the source's.
    ///
    /// Pass whole commits of the source (the mirror does): a replica then never shows part of
    /// an atomic multi-key append.
    ///
    /// - Throws: ``KirokuError`` with ``KirokuError/Code/replicaDiverged`` when the records do
    ///   not continue this store (a gap, a version or id that does not fit, another source, a
    ///   store with records of its own), a bad-input code for a record this store's options
    ///   refuse (a payload over ``Options/maxPayloadBytes``), or the storage codes of appends.
    ///   A refused call writes nothing.
    public func replicate(_ records: [Record], from source: UUID) async throws {
        guard !records.isEmpty else { return }
        for record in records {
            try Self.validate(key: record.key)
            try validate([AppendGroup(key: record.key, events: [
                EventData(type: record.type, payload: record.payload, metadata: record.metadata, id: record.id,
                          schemaVersion: record.schemaVersion),
            ])])
        }
        guard case .replicated = try await writer.submit(.replicate(records, source: source)) else {
            preconditionFailure("the writer answered a replication with another outcome")
        }
    }

    /// The store this one is a read replica of (its ``storeId``), or `nil` for a store that
    /// takes appends.
    public func replicaSource() throws -> UUID? {
        try withReadTransaction { txn in try layout.replicaSource(in: txn) }
    }
}
