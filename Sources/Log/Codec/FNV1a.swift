/// The 64-bit FNV-1a hash: small, stable across runs and platforms (unlike `Hasher`), for
/// values that must not change once stored (lanes of keys, derived ids, long index keys).
package enum FNV1a {
    /// The hash of `bytes`.
    package static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }
}
