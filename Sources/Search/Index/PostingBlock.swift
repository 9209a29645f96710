import KirokuProjections
/// One block of a term's postings (table `search-postings`, key term + 0 + first doc number
/// big-endian). Layout: count (UInt16 LE), last doc (UInt32 LE), then per document the doc
/// number's delta from the previous one (varint; the first is the key's), and for text fields
/// the term frequency (varint) and that many position deltas (varint).
///
/// Blocks hold at most ``maxCount`` documents or about ``maxBytes`` bytes, so an update or a
/// delete rewrites one small block, and values stay inside LMDB's pages.
struct PostingBlock {
    static let maxCount = 128
    static let maxBytes = 1800

    /// One document's entry.
    struct Entry {
        var doc: UInt32
        var positions: [UInt32]
    }

    var first: UInt32
    var entries: [Entry]
    let positional: Bool

    init(first: UInt32, entries: [Entry] = [], positional: Bool) {
        self.first = first
        self.entries = entries
        self.positional = positional
    }

    init(first: UInt32, decoding bytes: UnsafeRawBufferPointer, positional: Bool) {
        self.first = first
        self.positional = positional
        var reader = ByteReader(bytes)
        let count = Int(reader.u16())
        _ = reader.u32()
        entries = []
        entries.reserveCapacity(count)
        var doc = first
        for _ in 0..<count {
            doc &+= UInt32(reader.varint())
            var positions: [UInt32] = []
            if positional {
                let frequency = Int(reader.varint())
                positions.reserveCapacity(frequency)
                var position: UInt32 = 0
                for _ in 0..<frequency {
                    position &+= UInt32(reader.varint())
                    positions.append(position)
                }
            }
            entries.append(Entry(doc: doc, positions: positions))
        }
    }

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + entries.count * 4)
        withUnsafeBytes(of: UInt16(entries.count).littleEndian) { writer.bytes.append(contentsOf: $0) }
        writer.u32(entries.last?.doc ?? first)
        var previous = first
        for entry in entries {
            writer.varint(entry.doc - previous)
            previous = entry.doc
            if positional {
                writer.varint(entry.positions.count)
                var last: UInt32 = 0
                for position in entry.positions {
                    writer.varint(position - last)
                    last = position
                }
            }
        }
        return writer.bytes
    }

    /// Bytes an entry takes, roughly (for splitting blocks).
    static func size(of entry: Entry) -> Int {
        2 + entry.positions.count * 2
    }

    /// Visits the documents of an encoded block (and their positions for text fields) without
    /// building entries: the query path.
    static func forEach(first: UInt32, _ bytes: UnsafeRawBufferPointer, positional: Bool,
                        _ body: (UInt32, _ frequency: Int, _ positions: UnsafeRawBufferPointer, _ offset: Int) -> Void) {
        var reader = ByteReader(bytes)
        let count = Int(reader.u16())
        _ = reader.u32()
        var doc = first
        for _ in 0..<count {
            doc &+= UInt32(reader.varint())
            if positional {
                let frequency = Int(reader.varint())
                let start = reader.offset
                for _ in 0..<frequency { _ = reader.varint() }
                body(doc, frequency, bytes, start)
            } else {
                body(doc, 1, bytes, reader.offset)
            }
        }
    }

    /// Decodes `frequency` position deltas at `offset`, appending the positions to `positions`.
    static func positions(_ bytes: UnsafeRawBufferPointer, at offset: Int, frequency: Int, into positions: inout [UInt32]) {
        var reader = ByteReader(bytes, offset: offset)
        var position: UInt32 = 0
        for _ in 0..<frequency {
            position &+= UInt32(reader.varint())
            positions.append(position)
        }
    }
}
