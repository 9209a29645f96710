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

    /// Appends a block's documents, frequencies and (when asked) positions to `postings`: the
    /// query's hot loop, reading varints through a pointer (each read still bounded by the
    /// block's end) rather than ``ByteReader``.
    static func decode(first: UInt32, _ bytes: UnsafeRawBufferPointer, positional: Bool, withPositions: Bool,
                       into postings: inout TermPostings) {
        guard bytes.count >= 6, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var reader = Varints(p: base + 6, end: base + bytes.count)
        let count = Int(UInt16(base[0]) | UInt16(base[1]) << 8)
        var doc = first
        guard positional else {
            // Keywords: doc numbers only, written straight into the grown arrays.
            let start = postings.docs.count
            postings.docs.append(contentsOf: repeatElement(0, count: count))
            postings.frequencies.append(contentsOf: repeatElement(1, count: count))
            postings.docs.withUnsafeMutableBufferPointer { docs in
                for i in start..<start + count {
                    doc &+= reader.next()
                    docs[i] = doc
                }
            }
            return
        }
        // Text: the arrays grown by the block's count (positions by its size, a bound on how
        // many varints it holds), written through pointers, positions trimmed after.
        let start = postings.docs.count
        postings.docs.append(contentsOf: repeatElement(0, count: count))
        postings.frequencies.append(contentsOf: repeatElement(0, count: count))
        guard withPositions else {
            postings.docs.withUnsafeMutableBufferPointer { docs in
                postings.frequencies.withUnsafeMutableBufferPointer { frequencies in
                    for i in start..<start + count {
                        doc &+= reader.next()
                        let frequency = reader.next()
                        docs[i] = doc
                        frequencies[i] = frequency
                        reader.skip(Int(frequency))
                    }
                }
            }
            return
        }
        let startsBase = postings.positionStarts.count
        postings.positionStarts.append(contentsOf: repeatElement(0, count: count))
        let positionsBase = postings.positionValues.count
        postings.positionValues.append(contentsOf: repeatElement(0, count: bytes.count))
        var written = positionsBase
        postings.docs.withUnsafeMutableBufferPointer { docs in
            postings.frequencies.withUnsafeMutableBufferPointer { frequencies in
                postings.positionStarts.withUnsafeMutableBufferPointer { starts in
                    postings.positionValues.withUnsafeMutableBufferPointer { positions in
                        for i in 0..<count {
                            doc &+= reader.next()
                            let frequency = reader.next()
                            docs[start + i] = doc
                            frequencies[start + i] = frequency
                            var position: UInt32 = 0
                            for _ in 0..<frequency where written < positions.count {
                                position &+= reader.next()
                                positions[written] = position
                                written += 1
                            }
                            starts[startsBase + i] = written
                        }
                    }
                }
            }
        }
        postings.positionValues.removeLast(positionsBase + bytes.count - written)
    }

    /// Varints read through a pointer, each read bounded by the block's end. A struct (not a
    /// variable captured by a nested function) so accesses need no dynamic exclusivity check.
    struct Varints {
        var p: UnsafePointer<UInt8>
        let end: UnsafePointer<UInt8>

        @inline(__always) mutating func next() -> UInt32 {
            var result: UInt32 = 0
            var shift: UInt32 = 0
            while p < end {
                let byte = p.pointee
                p += 1
                result |= UInt32(byte & 0x7F) << (shift & 31)
                if byte < 0x80 { break }
                shift += 7
            }
            return result
        }

        /// Skips `count` varints.
        @inline(__always) mutating func skip(_ count: Int) {
            for _ in 0..<count {
                while p < end, p.pointee >= 0x80 { p += 1 }
                if p < end { p += 1 }
            }
        }
    }
}
