import KirokuLog
import KirokuProjections

/// Keys of the search index's tables.
enum IndexKey {
    /// Terms longer than this (in UTF-8 bytes) are cut at a character boundary, in the index
    /// and in queries alike, so keys stay under LMDB's 511-byte limit.
    static let maxTermBytes = 240

    static func term(_ field: Int, _ term: String) -> [UInt8] {
        let utf8 = term.utf8
        var key: [UInt8] = []
        key.reserveCapacity(1 + utf8.count)
        key.append(UInt8(field))
        key.append(contentsOf: utf8)
        if key.count > maxTermBytes + 1 {
            var cut = maxTermBytes + 1
            while cut > 1, key[cut] & 0xC0 == 0x80 { cut -= 1 }
            key.removeSubrange(cut...)
        }
        // NUL separates a term from a block's doc number: a NUL inside a term becomes a space.
        for i in 1..<key.count where key[i] == 0 { key[i] = 0x20 }
        return key
    }

    static func doc(_ doc: UInt32) -> [UInt8] {
        withUnsafeBytes(of: doc.bigEndian) { Array($0) }
    }

    static func block(_ term: [UInt8], first doc: UInt32) -> [UInt8] {
        term + [0] + Self.doc(doc)
    }

    /// A double in 8 bytes whose byte order is the numeric order.
    static func sortable(_ value: Double) -> [UInt8] {
        let bits = value.bitPattern
        let ordered = value.sign == .minus ? ~bits : bits | (1 << 63)
        return withUnsafeBytes(of: ordered.bigEndian) { Array($0) }
    }

    static func range(_ field: Int, _ value: Double, _ doc: UInt32) -> [UInt8] {
        [UInt8(field)] + sortable(value) + Self.doc(doc)
    }

    static func norms(_ field: Int, block: UInt32) -> [UInt8] {
        [UInt8(field)] + Self.doc(block)
    }

    /// A document id as a key: ids over 400 bytes keep 380 bytes and a 64-bit hash of the whole.
    static func id(_ id: String) -> [UInt8] {
        let utf8 = Array(id.utf8)
        guard utf8.count > 400 else { return utf8.isEmpty ? [0] : utf8 }
        let hash = FNV1a.hash(utf8)
        return Array(utf8[..<380]) + withUnsafeBytes(of: hash.bigEndian) { Array($0) }
    }

    static func readDoc(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

/// The tables of a search view.
enum SearchTables {
    static let terms = "search-terms"
    static let postings = "search-postings"
    static let docs = "search-docs"
    static let ids = "search-ids"
    static let norms = "search-norms"
    static let ranges = "search-ranges"
    static let meta = "search-meta"
    static let values = "search-values"
    /// Record key (length byte + UTF-8) + a 64-bit hash of a document id → the id: the
    /// documents a key wrote to whose id is not the key, so the key's deletion removes them.
    static let keys = "search-keys"
    static let all = [terms, postings, docs, ids, norms, ranges, meta, values, keys]

    /// Documents per norms block.
    static let normsPerBlock: UInt32 = 512
}
