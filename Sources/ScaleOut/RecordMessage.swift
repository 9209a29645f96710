import Foundation
import KirokuLog
import KirokuNATS
import NIOCore

/// How a record travels as a NATS message: the subject, the headers and the payload
/// (documented in docs/SCALE-OUT.md).
///
/// ```
/// subject  kiroku.<store id>.<encoded key>
/// Nats-Msg-Id                   <store id>:<position>
/// Nats-Expected-Last-Sequence   <position - 1>
/// Kiroku-Store                  <store id>
/// Kiroku-Position, Kiroku-Version, Kiroku-Timestamp (µs since 1970)
/// Kiroku-Key, Kiroku-Type, Kiroku-Id     encoded as subject tokens (KeyEncoding)
/// Kiroku-Metadata               base64, when the record has metadata
/// Kiroku-Checksum               the record's stored XXH64, 16 hex digits
/// Kiroku-Commit-End             "1" on the last record of a source commit
/// payload  the record's payload bytes
/// ```
public enum RecordMessage {
    /// The largest header block NATS accepts.
    public static let maxHeaderBytes = 65_535

    /// The subjects of a store's stream.
    public static func subjects(store: UUID) -> String {
        "kiroku.\(store.uuidString.lowercased()).>"
    }

    /// A record's subject.
    public static func subject(store: UUID, key: String) -> String {
        "kiroku.\(store.uuidString.lowercased()).\(KeyEncoding.encode(key))"
    }

    /// The store a stream's subjects belong to, when they are a Kiroku store's.
    public static func store(fromSubjects subjects: [String]) -> UUID? {
        for subject in subjects {
            let parts = subject.split(separator: ".")
            if parts.count == 3, parts[0] == "kiroku", parts[2] == ">", let id = UUID(uuidString: String(parts[1])) { return id }
        }
        return nil
    }

    /// The headers of `record`.
    public static func headers(_ record: Record, store: UUID, checksum: UInt64, commitEnd: Bool) -> NATSHeaders {
        let storeText = store.uuidString.lowercased()
        var headers = NATSHeaders()
        headers.append("Nats-Msg-Id", "\(storeText):\(record.position)")
        headers.append("Nats-Expected-Last-Sequence", String(record.position - 1))
        headers.append("Kiroku-Store", storeText)
        headers.append("Kiroku-Position", String(record.position))
        headers.append("Kiroku-Key", KeyEncoding.encode(record.key))
        headers.append("Kiroku-Version", String(record.version))
        headers.append("Kiroku-Type", KeyEncoding.encode(record.type))
        if let id = record.id { headers.append("Kiroku-Id", KeyEncoding.encode(id)) }
        headers.append("Kiroku-Timestamp", String(micros(record.timestamp)))
        if let metadata = record.metadata { headers.append("Kiroku-Metadata", metadata.base64EncodedString()) }
        headers.append("Kiroku-Checksum", hex16(checksum))
        if commitEnd { headers.append("Kiroku-Commit-End", "1") }
        return headers
    }

    /// A record read back from a message, with what travels beside it.
    public struct Decoded: Sendable {
        public var record: Record
        public var store: UUID
        public var checksum: UInt64
        public var commitEnd: Bool
    }

    /// Decodes a relayed record.
    ///
    /// - Throws: ``KirokuError/Code/replicaDiverged`` when a header is missing or malformed:
    ///   the message was not written by Kiroku's relay.
    public static func decode(headers: NATSHeaders?, payload: Data, subject: String) throws -> Decoded {
        func fail(_ what: String) -> KirokuError {
            KirokuError(.replicaDiverged, "A message on '\(subject.prefix(120))' is not a relayed Kiroku record (\(what)); only Kiroku's relay may publish to a store's stream.")
        }
        guard let headers else { throw fail("no headers") }
        guard let store = headers["Kiroku-Store"].flatMap(UUID.init(uuidString:)) else { throw fail("no Kiroku-Store") }
        guard let position = headers["Kiroku-Position"].flatMap(UInt64.init), position > 0 else { throw fail("no Kiroku-Position") }
        guard let key = headers["Kiroku-Key"].flatMap(KeyEncoding.decode) else { throw fail("no Kiroku-Key") }
        guard let version = headers["Kiroku-Version"].flatMap(UInt64.init), version > 0 else { throw fail("no Kiroku-Version") }
        guard let type = headers["Kiroku-Type"].flatMap(KeyEncoding.decode) else { throw fail("no Kiroku-Type") }
        guard let timestamp = headers["Kiroku-Timestamp"].flatMap(Int64.init) else { throw fail("no Kiroku-Timestamp") }
        guard let checksum = headers["Kiroku-Checksum"].flatMap({ UInt64($0, radix: 16) }) else { throw fail("no Kiroku-Checksum") }
        var id: String?
        if let encoded = headers["Kiroku-Id"] {
            guard let decoded = KeyEncoding.decode(encoded) else { throw fail("a bad Kiroku-Id") }
            id = decoded
        }
        var metadata: Data?
        if let encoded = headers["Kiroku-Metadata"] {
            guard let decoded = Data(base64Encoded: encoded) else { throw fail("a bad Kiroku-Metadata") }
            metadata = decoded
        }
        let record = Record(position: position, key: key, version: version,
                            timestamp: Date(timeIntervalSince1970: Double(timestamp) / 1_000_000),
                            type: type, payload: payload, metadata: metadata, id: id)
        return Decoded(record: record, store: store, checksum: checksum, commitEnd: headers["Kiroku-Commit-End"] == "1")
    }

    static func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
