import Foundation
import KirokuLog

/// What a projection version applied, as the log held it: the log's store id, the checkpoint
/// position and the checksum of the record there. Written in the same transaction as every
/// checkpoint; checked when the version starts and by `kiroku verify`.
///
/// It catches a log that changed under a projection: restored from an older copy, rolled back
/// by a power loss under `.noMetaSync`/`.noSync` and then appended to (new records at
/// positions the projection believes applied), or another store altogether.
struct LogFingerprint: Equatable, Sendable {
    let storeId: UUID
    let position: UInt64
    let checksum: UInt64

    static let key = Array("log".utf8)

    /// The fingerprint of the log at `position` (`nil` for position 0, or when no record is there).
    static func of(_ log: EventLog, at position: UInt64) throws -> LogFingerprint? {
        guard position > 0, let checksum = try log.recordChecksum(at: position) else { return nil }
        return LogFingerprint(storeId: log.storeId, position: position, checksum: checksum)
    }

    var encoded: [UInt8] {
        var bytes = withUnsafeBytes(of: storeId.uuid) { Array($0) }
        withUnsafeBytes(of: position.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: checksum.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    init(storeId: UUID, position: UInt64, checksum: UInt64) {
        self.storeId = storeId
        self.position = position
        self.checksum = checksum
    }

    init?(decoding bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        (storeId, position, checksum) = bytes.withUnsafeBytes { raw in
            (UUID(uuid: raw.loadUnaligned(as: uuid_t.self)),
             UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
             UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
        }
    }

    /// Why a version whose checkpoint is `checkpoint` (with this fingerprint, if it has one)
    /// does not match `log`; `nil` when it does.
    static func mismatch(checkpoint: UInt64, stored: LogFingerprint?, log: EventLog) throws -> String? {
        let head = try log.headPosition()
        if checkpoint > head {
            return "it has applied up to position \(checkpoint), past the log's head \(head) (the log was restored from an older copy or rolled back)"
        }
        guard let stored else { return nil }
        if stored.storeId != log.storeId {
            return "it was built from another store (\(stored.storeId.uuidString), this one is \(log.storeId.uuidString))"
        }
        if stored.position == checkpoint, try log.recordChecksum(at: checkpoint) != stored.checksum,
           // Retention may remove the record a checkpoint names, an erasure rewrite it; the
           // store id and the head still hold.
           !(try log.wasRemoved(checkpoint)), try log.record(at: checkpoint)?.isErased != true {
            return "the record at its checkpoint, position \(checkpoint), is not the one it applied (the log was rolled back or restored, then appended to)"
        }
        return nil
    }

    /// The error of a version that does not match its log.
    static func error(_ name: String, version: Int, _ reason: String, store: String) -> KirokuError {
        KirokuError(.projectionLogMismatch, "Projection '\(name)' v\(version) does not match the log: \(reason). Its state cannot be trusted: rebuild it (kiroku projections \(store) rebuild \(name)).")
    }
}

extension KirokuError.Code {
    /// A projection version's checkpoint does not match the log it reads (see `LogFingerprint`).
    public static let projectionLogMismatch = Self("projection-log-mismatch")
}
