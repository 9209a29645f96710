/// Eight big-endian bytes of a `UInt64`: LMDB sorts keys bytewise, so big-endian sorts numerically.
struct BigEndianKey {
    var bytes: UInt64

    init(_ value: UInt64) { bytes = value.bigEndian }

    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var copy = bytes
        return try withUnsafeBytes(of: &copy, body)
    }

    /// Reads a big-endian `UInt64` from the first eight bytes of `buffer`.
    static func value(_ buffer: UnsafeRawBufferPointer, at offset: Int = 0) -> UInt64 {
        UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

/// A key index entry: (version, position), both big-endian, 16 bytes: sorted by version.
struct VersionPosition: Equatable {
    var version: UInt64
    var position: UInt64

    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var pair = (version.bigEndian, position.bigEndian)
        return try withUnsafeBytes(of: &pair, body)
    }

    init(version: UInt64, position: UInt64) {
        self.version = version
        self.position = position
    }

    /// Decodes 16 bytes; `nil` when the entry is not 16 bytes long (corruption).
    init?(_ buffer: UnsafeRawBufferPointer) {
        guard buffer.count == 16 else { return nil }
        version = BigEndianKey.value(buffer, at: 0)
        position = BigEndianKey.value(buffer, at: 8)
    }
}
