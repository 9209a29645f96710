import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuLog

@Suite struct ChecksumTests {
    /// Values from the reference implementation (python-xxhash, which wraps xxhash's C code).
    @Test(arguments: [
        ([UInt8](), UInt64(0), UInt64(0xEF46_DB37_51D8_E999)),
        (Array("a".utf8), 0, 0xD24E_C4F1_A98C_6E5B),
        (Array("abc".utf8), 0, 0x44BC_2CF5_AD77_0999),
        (Array("123456789".utf8), 0, 0x8CB8_41DB_40E6_AE83),
        (Array(0...255) + Array(0...255), 0, 0x7B3B_FCAA_C034_8AC0),
        (Array("Kiroku records".utf8), 42, 0xBA2B_7E65_9279_CA08),
        (Array(0..<40), 7, 0xFC9F_7A1B_2401_2CB5),
    ] as [([UInt8], UInt64, UInt64)])
    func xxh64MatchesTheReference(bytes: [UInt8], seed: UInt64, expected: UInt64) {
        #expect(bytes.withUnsafeBytes { XXH64.hash($0, seed: seed) } == expected)
    }

    @Test func codecRoundTripsAndRejectsDamage() throws {
        let event = EventData(type: "T", payload: Data("hello".utf8), metadata: Data("m".utf8), id: "i")
        let size = RecordCodec.encodedSize(keyCount: 3, event: event)
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes {
            let buffer = $0
            "key".withUTF8Bytes { key in
                RecordCodec.encode(into: buffer, position: 9, version: 3, previous: 4, timestampMicros: 1_700_000_000_000_000, key: key, event: event)
            }
        }
        let record = try bytes.withUnsafeBytes { try RecordCodec.view(position: 9, bytes: $0).record(position: 9, key: nil, type: nil) }
        #expect(record.key == "key" && record.version == 3 && record.type == "T" && record.id == "i")
        #expect(try bytes.withUnsafeBytes { try RecordCodec.view(position: 9, bytes: $0).previous } == 4)
        #expect(record.payload == Data("hello".utf8) && record.metadata == Data("m".utf8))
        // The same bytes under another position fail: the position is part of the checksum.
        #expect(throws: RecordCodec.Failure.self) { try bytes.withUnsafeBytes { _ = try RecordCodec.view(position: 10, bytes: $0) } }
        for index in [0, 5, 20, size / 2, size - 1] {
            var damaged = bytes
            damaged[index] ^= 0x40
            #expect(throws: RecordCodec.Failure.self) { try damaged.withUnsafeBytes { _ = try RecordCodec.view(position: 9, bytes: $0) } }
        }
        #expect(throws: RecordCodec.Failure.self) { try bytes.prefix(10).withUnsafeBytes { _ = try RecordCodec.view(position: 9, bytes: $0) } }
    }
}
