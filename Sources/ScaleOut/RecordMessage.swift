import Foundation
import KirokuLog
import KirokuNATS
import NIOCore

/// How a record travels as a NATS message: the subject, the headers and the payload
/// (documented in docs/SCALE-OUT.md).
///
/// ```
/// subject  kiroku.<store id>.<encoded key>
/// NATS/1.0
/// Nats-Msg-Id                   <store id>:<position>
/// Nats-Expected-Last-Sequence   <position - 1>
/// Kiroku-Store                  <store id>
/// Kiroku-Position, Kiroku-Version, Kiroku-Timestamp (µs since 1970)
/// Kiroku-Key, Kiroku-Type, Kiroku-Id     encoded as subject tokens (KeyEncoding)
/// Kiroku-Metadata               base64, when the record has metadata
/// Kiroku-Checksum               the record's stored XXH64, 16 hex digits
/// Kiroku-Commit-End             "1" on the last record of a source commit
/// Kiroku-Deletion               "soft" or "hard" on a key's deletion marker
/// Kiroku-Erased                 "1" on an erased record or an erasure's marker
/// Kiroku-Schema                 the event's schema version, when it is not 1
/// payload  the record's payload bytes
/// ```
public enum RecordMessage {
    /// The largest header block NATS accepts.
    public static let maxHeaderBytes = 65_535

    /// The subjects of a store's stream.
    public static func subjects(store: UUID) -> String {
        "kiroku.\(storeText(store)).>"
    }

    /// A record's subject.
    public static func subject(store: UUID, key: String) -> String {
        "kiroku.\(storeText(store)).\(KeyEncoding.encode(key))"
    }

    /// The store a stream's subjects belong to, when they are a Kiroku store's.
    public static func store(fromSubjects subjects: [String]) -> UUID? {
        for subject in subjects {
            let parts = subject.split(separator: ".")
            if parts.count == 3, parts[0] == "kiroku", parts[2] == ">", let id = UUID(uuidString: String(parts[1])) { return id }
        }
        return nil
    }

    /// The header block of `record` as it goes on the wire (`NATS/1.0`, the fields above, an
    /// empty line), written straight into bytes: the relay makes one per record.
    ///
    /// - Parameter store: the source's store id, lower-case (``storeText(_:)``).
    /// - Parameter encodedKey, encodedType: the key and type already encoded
    ///   (``KeyEncoding/encode(_:)``), when the caller keeps them; encoded here otherwise.
    public static func headerBlock(_ record: Record, store: String, checksum: UInt64, commitEnd: Bool,
                                   encodedKey: String? = nil, encodedType: String? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        writeHeaderBlock(record, store: store, checksum: checksum, commitEnd: commitEnd, encodedKey: encodedKey, encodedType: encodedType, into: &bytes)
        return bytes
    }

    /// Like ``headerBlock(_:store:checksum:commitEnd:encodedKey:encodedType:)``, into `bytes`
    /// (emptied first, its capacity kept: the relay reuses one array for every record).
    public static func writeHeaderBlock(_ record: Record, store: String, checksum: UInt64, commitEnd: Bool,
                                        encodedKey: String? = nil, encodedType: String? = nil, into bytes: inout [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        bytes.reserveCapacity(300 + record.key.utf8.count * 3 + (record.metadata?.count ?? 0) * 4 / 3)
        func field(_ name: StaticString, _ value: String) {
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            var value = value
            value.withUTF8 { bytes.append(contentsOf: $0) }
            bytes.append(13)
            bytes.append(10)
        }
        bytes.append(contentsOf: "NATS/1.0\r\n".utf8)
        field("Nats-Msg-Id: ", "\(store):\(record.position)")
        field("Nats-Expected-Last-Sequence: ", String(record.position - 1))
        field("Kiroku-Store: ", store)
        field("Kiroku-Position: ", String(record.position))
        field("Kiroku-Key: ", encodedKey ?? KeyEncoding.encode(record.key))
        field("Kiroku-Version: ", String(record.version))
        field("Kiroku-Type: ", encodedType ?? KeyEncoding.encode(record.type))
        if let id = record.id { field("Kiroku-Id: ", KeyEncoding.encode(id)) }
        field("Kiroku-Timestamp: ", String(micros(record.timestamp)))
        if let metadata = record.metadata { field("Kiroku-Metadata: ", metadata.base64EncodedString()) }
        field("Kiroku-Checksum: ", hex16(checksum))
        if commitEnd { field("Kiroku-Commit-End: ", "1") }
        if let deletion = record.deletion { field("Kiroku-Deletion: ", deletion.rawValue) }
        if record.isErased { field("Kiroku-Erased: ", "1") }
        if record.schemaVersion != 1 { field("Kiroku-Schema: ", String(record.schemaVersion)) }
        bytes.append(13)
        bytes.append(10)
    }

    /// A store id as the stream's subjects and headers write it (lower-case).
    public static func storeText(_ store: UUID) -> String {
        store.uuidString.lowercased()
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
    /// - Parameter expectedStore: the store the stream should carry, with its text (a match
    ///   skips parsing the UUID of every record).
    public static func decode(headers: NATSHeaders?, payload: Data, subject: String, expectedStore: (id: UUID, text: String)) throws -> Decoded {
        func fail(_ what: String) -> KirokuError {
            KirokuError(.replicaDiverged, "A message on '\(subject.prefix(120))' is not a relayed Kiroku record (\(what)); only Kiroku's relay may publish to a store's stream.")
        }
        guard let headers else { throw fail("no headers") }
        guard let storeText = headers["Kiroku-Store"] else { throw fail("no Kiroku-Store") }
        guard let store = storeText == expectedStore.text ? expectedStore.id : UUID(uuidString: storeText) else { throw fail("no Kiroku-Store") }
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
        var deletion: Record.Deletion?
        if let text = headers["Kiroku-Deletion"] {
            guard let decoded = Record.Deletion(rawValue: text) else { throw fail("a bad Kiroku-Deletion") }
            deletion = decoded
        }
        let erased = headers["Kiroku-Erased"] == "1"
        var schema = 1
        if let text = headers["Kiroku-Schema"] {
            guard let decoded = Int(text), (2...Int(UInt16.max)).contains(decoded), deletion == nil else { throw fail("a bad Kiroku-Schema") }
            schema = decoded
        }
        if (deletion != nil || erased) && (!payload.isEmpty || metadata != nil) { throw fail("a payload on a deletion marker or erased record") }
        let record = Record(position: position, key: key, version: version,
                            timestamp: Date(timeIntervalSince1970: Double(timestamp) / 1_000_000),
                            type: type, payload: payload, metadata: metadata, id: id, isErased: erased, deletion: deletion,
                            schemaVersion: schema)
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
