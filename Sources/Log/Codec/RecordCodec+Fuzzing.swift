import Foundation

/// The record decoder's fuzz entry point, for the libFuzzer target in `Fuzz/` and the
/// regression test that replays its corpus. Not API: `@_spi(Fuzzing)`.
@_spi(Fuzzing) public enum RecordFuzzing {
    /// Decodes `bytes` as the record stored at position 1: as they are (almost always a
    /// checksum failure), then with the checksum recomputed, so that the fuzzer reaches the
    /// parsing behind it. Decoding must either fail with a corruption error or give a record
    /// that encodes back to exactly the same bytes; anything else traps.
    public static func decode(_ bytes: UnsafeRawBufferPointer) {
        _ = check(bytes)
        _ = decodesWithFixedChecksum(Data(bytes))
    }

    /// Whether `bytes` decode once their checksum is recomputed (checked as in ``decode(_:)``).
    public static func decodesWithFixedChecksum(_ bytes: Data) -> Bool {
        guard bytes.count >= RecordCodec.headerSize + RecordCodec.trailerSize else { return false }
        var fixed = Array(bytes)
        let bodyCount = fixed.count - RecordCodec.trailerSize
        fixed.withUnsafeMutableBytes { buffer in
            let sum = RecordCodec.checksum(position: 1, body: UnsafeRawBufferPointer(rebasing: buffer[0..<bodyCount]))
            buffer.storeBytes(of: sum.littleEndian, toByteOffset: bodyCount, as: UInt64.self)
        }
        return fixed.withUnsafeBytes { check($0) }
    }

    /// Decodes; when it succeeds, checks that the record encodes back to `bytes`.
    private static func check(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let record: Record
        let view: RecordCodec.View
        do {
            view = try RecordCodec.view(position: 1, bytes: bytes)
            record = try EventLog.decode(view, at: 1)
        } catch {
            return false
        }
        let event = EventData(type: record.type, payload: record.payload, metadata: record.metadata, id: record.id,
                              schemaVersion: record.schemaVersion)
        let key = Array(record.key.utf8)
        var again = [UInt8](repeating: 0, count: RecordCodec.encodedSize(keyCount: key.count, event: event))
        again.withUnsafeMutableBytes { buffer in
            key.withUnsafeBytes { key in
                RecordCodec.encode(into: buffer, position: 1, version: view.version, previous: view.previous,
                                   timestampMicros: view.timestampMicros, key: key, event: event,
                                   flags: view.flags & (RecordCodec.erased | RecordCodec.deletionMarker | RecordCodec.hardDeletion))
            }
        }
        precondition(again.elementsEqual(bytes), "a decoded record does not encode back to its bytes")
        return true
    }
}
