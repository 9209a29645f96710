import Foundation

/// The byte layout of a stored record (format 1), documented in `docs/FORMAT.md`.
///
/// ```
/// offset size  field
///  0      1    format version (1)
///  1      1    flags: bit 0 metadata present, bit 1 id present, bit 2 erased, bit 3 a
///              deletion marker, bit 4 the deletion is hard (a tombstone), bit 5 schema
///              version present
///  2      2    key length (LE)
///  4      2    type length (LE)
///  6      2    id length (LE)
///  8      8    version (LE)
/// 16      8    timestamp, microseconds since 1970 (LE, signed)
/// 24      8    position of the key's previous record, 0 for its first (LE)
/// 32      4    payload length (LE)
/// 36      4    metadata length (LE)
/// 40      …    key, type, id, payload, metadata (UTF-8 / raw bytes)
///         2    with bit 5: the event's schema version (LE, 2 or more; absent means 1)
/// end-8   8    XXH64 (LE) of every byte above, seeded with the record's position
/// ```
/// The position seeds the checksum though it is the LMDB key, so a record found under the wrong
/// position fails its check too.
enum RecordCodec {
    static let formatVersion: UInt8 = 1
    static let headerSize = 40
    static let trailerSize = 8
    private static let hasMetadata: UInt8 = 1
    private static let hasId: UInt8 = 2
    /// The payload and metadata were erased: both are empty, the envelope stays.
    static let erased: UInt8 = 4
    /// The record marks its key's deletion (no payload, no metadata).
    static let deletionMarker: UInt8 = 8
    /// With ``deletionMarker``: the deletion is hard.
    static let hardDeletion: UInt8 = 16
    /// The record carries a schema version other than 1 (format 3).
    static let hasSchema: UInt8 = 32
    static let schemaSize = 2
    private static let knownFlags: UInt8 = hasMetadata | hasId | erased | deletionMarker | hardDeletion | hasSchema

    /// The schema version stored for `event`: 1 (written as no field) unless it says otherwise.
    static func schema(of event: EventData) -> UInt16 { UInt16(clamping: event.schemaVersion ?? 1) }

    static func encodedSize(keyCount: Int, event: EventData) -> Int {
        headerSize + keyCount + event.type.utf8.count + (event.id?.utf8.count ?? 0)
            + event.payload.count + (event.metadata?.count ?? 0) + (schema(of: event) == 1 ? 0 : schemaSize) + trailerSize
    }

    /// Writes the record into `buffer`, which must be exactly `encodedSize(keyCount:event:)`
    /// bytes; `key` is the partition key's UTF-8.
    static func encode(into buffer: UnsafeMutableRawBufferPointer, position: UInt64, version: UInt64, previous: UInt64,
                       timestampMicros: Int64, key: UnsafeRawBufferPointer, event: EventData, flags extra: UInt8 = 0) {
        var flags: UInt8 = extra
        if event.metadata != nil { flags |= hasMetadata }
        if event.id != nil { flags |= hasId }
        let schema = schema(of: event)
        if schema != 1 { flags |= hasSchema }
        buffer.storeBytes(of: formatVersion, toByteOffset: 0, as: UInt8.self)
        buffer.storeBytes(of: flags, toByteOffset: 1, as: UInt8.self)
        buffer.storeBytes(of: UInt16(key.count).littleEndian, toByteOffset: 2, as: UInt16.self)
        buffer.storeBytes(of: UInt16(event.type.utf8.count).littleEndian, toByteOffset: 4, as: UInt16.self)
        buffer.storeBytes(of: UInt16(event.id?.utf8.count ?? 0).littleEndian, toByteOffset: 6, as: UInt16.self)
        buffer.storeBytes(of: version.littleEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: timestampMicros.littleEndian, toByteOffset: 16, as: Int64.self)
        buffer.storeBytes(of: previous.littleEndian, toByteOffset: 24, as: UInt64.self)
        buffer.storeBytes(of: UInt32(event.payload.count).littleEndian, toByteOffset: 32, as: UInt32.self)
        buffer.storeBytes(of: UInt32(event.metadata?.count ?? 0).littleEndian, toByteOffset: 36, as: UInt32.self)
        var offset = headerSize
        offset = copy(key, into: buffer, at: offset)
        offset = event.type.withUTF8Bytes { copy($0, into: buffer, at: offset) }
        if let id = event.id { offset = id.withUTF8Bytes { copy($0, into: buffer, at: offset) } }
        offset = event.payload.withUnsafeBytes { copy($0, into: buffer, at: offset) }
        if let metadata = event.metadata { offset = metadata.withUnsafeBytes { copy($0, into: buffer, at: offset) } }
        if schema != 1 {
            buffer.storeBytes(of: schema.littleEndian, toByteOffset: offset, as: UInt16.self)
            offset += schemaSize
        }
        let check = checksum(position: position, body: UnsafeRawBufferPointer(rebasing: buffer[0..<offset]))
        buffer.storeBytes(of: check.littleEndian, toByteOffset: offset, as: UInt64.self)
    }

    /// Copies `bytes` into `buffer` at `offset` and returns the offset after them.
    @inline(__always)
    private static func copy(_ bytes: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        if let source = bytes.baseAddress, bytes.count > 0 {
            (buffer.baseAddress! + offset).copyMemory(from: source, byteCount: bytes.count)
        }
        return offset + bytes.count
    }

    /// The bytes of `view`'s record with its payload and metadata erased: the same envelope
    /// (key, type, id, schema version, version, timestamp, link), the erased flag set, a new checksum.
    static func erasedCopy(of view: View, position: UInt64) -> [UInt8] {
        let idCount = view.idRange?.count ?? 0
        let schemaCount = view.schemaVersion == 1 ? 0 : schemaSize
        let size = headerSize + view.keyRange.count + view.typeRange.count + idCount + schemaCount + trailerSize
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes { buffer in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: view.bytes[0..<headerSize]))
            buffer.storeBytes(of: (view.flags & ~hasMetadata) | erased, toByteOffset: 1, as: UInt8.self)
            buffer.storeBytes(of: UInt32(0), toByteOffset: 32, as: UInt32.self)
            buffer.storeBytes(of: UInt32(0), toByteOffset: 36, as: UInt32.self)
            var offset = headerSize
            offset = copy(UnsafeRawBufferPointer(rebasing: view.bytes[view.keyRange]), into: buffer, at: offset)
            offset = copy(UnsafeRawBufferPointer(rebasing: view.bytes[view.typeRange]), into: buffer, at: offset)
            if let idRange = view.idRange { offset = copy(UnsafeRawBufferPointer(rebasing: view.bytes[idRange]), into: buffer, at: offset) }
            if schemaCount > 0 {
                buffer.storeBytes(of: view.schemaVersion.littleEndian, toByteOffset: offset, as: UInt16.self)
                offset += schemaCount
            }
            let check = checksum(position: position, body: UnsafeRawBufferPointer(rebasing: buffer[0..<offset]))
            buffer.storeBytes(of: check.littleEndian, toByteOffset: offset, as: UInt64.self)
        }
        return bytes
    }

    /// The erased and deletion flags a record carries (what a replica writes for it).
    static func flags(of record: Record) -> UInt8 {
        flags(isErased: record.isErased, deletion: record.deletion)
    }

    static func flags(isErased: Bool, deletion: Record.Deletion?) -> UInt8 {
        var flags: UInt8 = isErased ? erased : 0
        if let deletion { flags |= deletionMarker | (deletion == .hard ? hardDeletion : 0) }
        return flags
    }

    static func checksum(position: UInt64, body: UnsafeRawBufferPointer) -> UInt64 {
        XXH64.hash(body, seed: position)
    }

    /// Why stored bytes are not a valid record.
    enum Failure: Error, Equatable {
        case tooShort(Int)
        case unknownFormat(UInt8)
        case badChecksum(stored: UInt64, computed: UInt64)
        case badLengths
        case badFlags(UInt8)
        case badText
    }

    /// The parsed header of a stored record, pointing into its bytes (valid while they are).
    struct View {
        let bytes: UnsafeRawBufferPointer
        let flags: UInt8
        let version: UInt64
        let timestampMicros: Int64
        /// Position of the key's previous record; 0 for its first.
        let previous: UInt64
        let keyRange: Range<Int>
        let typeRange: Range<Int>
        let idRange: Range<Int>?
        let payloadRange: Range<Int>
        let metadataRange: Range<Int>?
        /// The schema version the event was written with (1 when the record has none).
        let schemaVersion: UInt16

        func string(_ range: Range<Int>) throws(Failure) -> String {
            guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) else {
                throw .badText
            }
            return text
        }

        var key: String { get throws(Failure) { try string(keyRange) } }
        /// Whether the payload and metadata were erased.
        var isErased: Bool { flags & RecordCodec.erased != 0 }
        /// The deletion this record marks, if it is a marker.
        var deletion: Record.Deletion? {
            flags & RecordCodec.deletionMarker == 0 ? nil : (flags & RecordCodec.hardDeletion != 0 ? .hard : .soft)
        }
        var id: String? { get throws(Failure) { try idRange.map { range throws(Failure) in try string(range) } } }

        func keyEquals(_ other: String) -> Bool {
            other.withUTF8Bytes { $0.elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[keyRange])) }
        }

        /// Which field of this record differs from `event` appended to `key`, comparing bytes
        /// (key, type, id, payload, metadata, each with its presence); `nil` when none does.
        func difference(key: String, event: EventData) -> String? {
            func same(_ range: Range<Int>?, _ other: UnsafeRawBufferPointer?) -> Bool {
                guard let range, let other else { return range == nil && other == nil }
                return other.elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[range]))
            }
            if !keyEquals(key) { return "key" }
            if !event.type.withUTF8Bytes({ same(typeRange, $0) }) { return "type" }
            let sameId = event.id.map { id in id.withUTF8Bytes { same(idRange, $0) } } ?? (idRange == nil)
            if !sameId { return "id" }
            // An erased record's content is gone: a retry of it (same key, type and id) is a repeat.
            if isErased { return nil }
            if !event.payload.withUnsafeBytes({ same(payloadRange, $0) }) { return "payload" }
            let sameMetadata = event.metadata.map { metadata in metadata.withUnsafeBytes { same(metadataRange, $0) } } ?? (metadataRange == nil)
            if !sameMetadata { return "metadata" }
            if schemaVersion != RecordCodec.schema(of: event) { return "schema version" }
            return nil
        }

        /// The record, reusing `key` and `type` when they are the strings its bytes hold (a
        /// per-key read knows the key, and a key's events mostly share a few types).
        func record(position: UInt64, key knownKey: String?, type knownType: String?) throws(Failure) -> Record {
            func matches(_ text: String?, _ range: Range<Int>) -> String? {
                guard var text else { return nil }
                return text.withUTF8 { UnsafeRawBufferPointer($0).elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[range])) } ? text : nil
            }
            let key: String, type: String
            if let known = matches(knownKey, keyRange) { key = known } else { key = try string(keyRange) }
            if let known = matches(knownType, typeRange) { type = known } else { type = try string(typeRange) }
            return Record(
                position: position,
                key: key,
                version: version,
                timestamp: Date(timeIntervalSince1970: Double(timestampMicros) / 1_000_000),
                type: type,
                payload: Data(UnsafeRawBufferPointer(rebasing: bytes[payloadRange])),
                metadata: metadataRange.map { Data(UnsafeRawBufferPointer(rebasing: bytes[$0])) },
                id: try id,
                isErased: isErased,
                deletion: deletion,
                schemaVersion: Int(schemaVersion)
            )
        }
    }

    /// ``view(position:bytes:)`` for a store's reads and writes: damage is a `corruption` error
    /// naming the position (the one message every caller gives).
    static func checkedView(position: UInt64, bytes: UnsafeRawBufferPointer) throws -> View {
        do {
            return try view(position: position, bytes: bytes)
        } catch {
            throw KirokuError(.corruption, "The record at position \(position) is damaged (\(error)); run verify, and restore from a copy if it reports problems.", position: position)
        }
    }

    /// Parses and checks (format, lengths, checksum) the bytes stored at `position`.
    static func view(position: UInt64, bytes: UnsafeRawBufferPointer) throws(Failure) -> View {
        guard bytes.count >= headerSize + trailerSize else { throw .tooShort(bytes.count) }
        let format = bytes.load(fromByteOffset: 0, as: UInt8.self)
        guard format == formatVersion else { throw .unknownFormat(format) }
        let bodyCount = bytes.count - trailerSize
        let stored = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: bodyCount, as: UInt64.self))
        let computed = checksum(position: position, body: UnsafeRawBufferPointer(rebasing: bytes[0..<bodyCount]))
        guard stored == computed else { throw .badChecksum(stored: stored, computed: computed) }
        let keyCount = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let typeCount = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        let idCount = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
        let version = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let timestamp = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: Int64.self))
        let previous = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        let payloadCount = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 32, as: UInt32.self)))
        let metadataCount = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 36, as: UInt32.self)))
        let flags = bytes.load(fromByteOffset: 1, as: UInt8.self)
        let schemaCount = flags & hasSchema != 0 ? schemaSize : 0
        guard headerSize + keyCount + typeCount + idCount + payloadCount + metadataCount + schemaCount == bodyCount else {
            throw .badLengths
        }
        // Only the known flags, and no bytes for a field whose flag is off: a record decodes
        // only from bytes its encoder could have written. Erased records and deletion markers
        // have neither payload nor metadata; only a marker is hard.
        let emptied = flags & (erased | deletionMarker) != 0
        guard flags & ~knownFlags == 0,
              flags & hasId != 0 || idCount == 0,
              flags & hasMetadata != 0 || metadataCount == 0,
              !emptied || (payloadCount == 0 && flags & hasMetadata == 0),
              flags & hardDeletion == 0 || flags & deletionMarker != 0 else {
            throw .badFlags(flags)
        }
        var schemaVersion: UInt16 = 1
        if schemaCount > 0 {
            schemaVersion = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: bodyCount - schemaCount, as: UInt16.self))
            // Version 1 is written as no field, and a marker has no schema: one encoding each.
            guard schemaVersion >= 2, flags & deletionMarker == 0 else { throw .badFlags(flags) }
        }
        var offset = headerSize
        func next(_ count: Int) -> Range<Int> {
            defer { offset += count }
            return offset..<(offset + count)
        }
        let keyRange = next(keyCount)
        let typeRange = next(typeCount)
        let idRange = next(idCount)
        let payloadRange = next(payloadCount)
        let metadataRange = next(metadataCount)
        return View(
            bytes: bytes, flags: flags, version: version, timestampMicros: timestamp, previous: previous,
            keyRange: keyRange, typeRange: typeRange,
            idRange: flags & hasId != 0 ? idRange : nil,
            payloadRange: payloadRange,
            metadataRange: flags & hasMetadata != 0 ? metadataRange : nil,
            schemaVersion: schemaVersion
        )
    }
}
