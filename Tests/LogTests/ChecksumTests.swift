import Foundation
import Testing
@testable import Log

@Suite struct ChecksumTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        // The CRC-32C check value from the iSCSI specification (RFC 3720).
        let value = Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) }
        #expect(value == 0xE306_9283)
        let zeros = [UInt8](repeating: 0, count: 32).withUnsafeBytes { CRC32C.checksum($0) }
        #expect(zeros == 0x8A91_36AA)
    }

    @Test func incrementalEqualsOneShot() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes.withUnsafeBytes { all in
            for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
                let first = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: all[0..<split]))
                let both = CRC32C.update(first, UnsafeRawBufferPointer(rebasing: all[split...]))
                #expect(both == CRC32C.checksum(all))
            }
        }
    }

    @Test func codecRoundTripsAndRejectsDamage() throws {
        let event = EventData(type: "T", payload: Data("hello".utf8), metadata: Data("m".utf8), id: "i")
        let size = RecordCodec.encodedSize(key: "key", event: event)
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes {
            RecordCodec.encode(into: $0, position: 9, version: 3, timestampMicros: 1_700_000_000_000_000, key: "key", event: event)
        }
        let record = try bytes.withUnsafeBytes { try RecordCodec.view(position: 9, bytes: $0).record(position: 9) }
        #expect(record.key == "key" && record.version == 3 && record.type == "T" && record.id == "i")
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
