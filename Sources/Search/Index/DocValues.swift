import KirokuLog
import KirokuProjections

/// Columnar values of a view's number, date and keyword fields (table `search-values`, key
/// field + block number big-endian), in blocks of ``SearchTables/normsPerBlock`` documents:
/// filters, ranges, sorts and facets read a hit's value from its block, decoded once per
/// block, instead of decoding the hit's stored document.
///
/// Views written before doc values existed have no `doc-values` entry in `search-meta`;
/// queries on them read stored documents instead (``DocValueReader``), and a rebuild gives them
/// doc values.
enum DocValues {
    /// The `search-meta` entry that says the view keeps doc values for every document.
    static let flagKey = Array("doc-values".utf8)

    static let perBlock = Int(SearchTables.normsPerBlock)

    static func key(_ field: Int, block: UInt32) -> [UInt8] {
        IndexKey.norms(field, block: block)
    }

    /// Numbers and dates of one block. Layout: mode (0: raw doubles, 1: integers), a presence
    /// bitmap (64 bytes), then for mode 0 every slot's double (LE), for mode 1 the smallest
    /// value (Int64 LE), the bits per value and every slot's offset from it, bit-packed.
    struct Numbers {
        var present = [UInt64](repeating: 0, count: DocValues.perBlock / 64)
        var values = [Double](repeating: 0, count: DocValues.perBlock)

        init() {}

        /// Every slot of an encoded block (for an update), read as a query reads one.
        init(decoding bytes: UnsafeRawBufferPointer) {
            for slot in values.indices {
                if let value = Self.value(in: bytes, slot: slot) { set(slot, value) }
            }
        }

        /// One slot's value read in place from an encoded block (no decoding of the others).
        static func value(in bytes: UnsafeRawBufferPointer, slot: Int) -> Double? {
            guard bytes[1 + slot / 8] & (1 << UInt8(slot % 8)) != 0 else { return nil }
            let values = 1 + DocValues.perBlock / 8
            if bytes[0] == 0 {
                return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: values + slot * 8, as: UInt64.self)))
            }
            let minimum = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: values, as: Int64.self))
            let width = Int(bytes[values + 8])
            guard width > 0 else { return Double(minimum) }
            let packed = values + 9
            let bit = slot * width
            // Integers are below 9e15 in magnitude (see `integral`): widths stay under 56 bits.
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: packed + bit / 8, as: UInt64.self))
            let offset = (word >> UInt64(bit % 8)) & ((1 << UInt64(width)) - 1)
            return Double(minimum &+ Int64(bitPattern: offset))
        }

        func contains(_ slot: Int) -> Bool { present[slot / 64] & (1 << UInt64(slot % 64)) != 0 }

        func value(_ slot: Int) -> Double? { contains(slot) ? values[slot] : nil }

        mutating func set(_ slot: Int, _ value: Double?) {
            if let value {
                present[slot / 64] |= 1 << UInt64(slot % 64)
                values[slot] = value
            } else {
                present[slot / 64] &= ~(1 << UInt64(slot % 64))
                values[slot] = 0
            }
        }

        var isEmpty: Bool { present.allSatisfy { $0 == 0 } }

        /// Whether a double is an integer that converts to Int64 and back unchanged (not -0).
        private static func integral(_ value: Double) -> Int64? {
            guard value.isFinite, value == value.rounded(), abs(value) < 9.0e15, !(value == 0 && value.sign == .minus) else { return nil }
            return Int64(value)
        }

        func encoded() -> [UInt8] {
            var writer = ByteWriter(capacity: 9 + 64 + DocValues.perBlock * 8)
            let integers = values.indices.map { contains($0) ? Self.integral(values[$0]) : 0 }
            let allIntegers = !integers.contains(nil)
            writer.bytes.append(allIntegers ? 1 : 0)
            for word in present { withUnsafeBytes(of: word.littleEndian) { writer.bytes.append(contentsOf: $0) } }
            guard allIntegers else {
                for value in values { writer.double(value) }
                return writer.bytes
            }
            let present = values.indices.filter(contains).map { integers[$0]! }
            let minimum = present.min() ?? 0
            let spread = UInt64(bitPattern: (present.max() ?? 0) &- minimum)
            let width = spread == 0 ? 0 : 64 - spread.leadingZeroBitCount
            withUnsafeBytes(of: minimum.littleEndian) { writer.bytes.append(contentsOf: $0) }
            writer.bytes.append(UInt8(width))
            guard width > 0 else { return writer.bytes }
            let start = writer.bytes.count
            // Eight spare bytes: a reader loads any value with one unaligned 64-bit read.
            writer.bytes.append(contentsOf: [UInt8](repeating: 0, count: (DocValues.perBlock * width + 7) / 8 + 8))
            for slot in values.indices where contains(slot) {
                let offset = UInt64(bitPattern: integers[slot]! &- minimum)
                var bit = slot * width
                var remaining = width
                var rest = offset
                while remaining > 0 {
                    let take = min(8 - bit % 8, remaining)
                    let part = UInt8(truncatingIfNeeded: rest & ((1 << UInt64(take)) - 1))
                    writer.bytes[start + bit / 8] |= part << UInt8(bit % 8)
                    rest >>= UInt64(take)
                    remaining -= take
                    bit += take
                }
            }
            return writer.bytes
        }
    }

    /// Keywords of one block. Layout: the block's distinct values (count as UInt16 LE, then
    /// each as varint length + UTF-8 bytes), then per slot the count of its distinct values
    /// (varint) and their numbers in that list (varints), in the document's order.
    struct Keywords {
        /// Distinct values by their bytes (keywords equal as Strings but not as bytes differ).
        var dictionary: [[UInt8]] = []
        /// Where each slot's numbers start in `ordinals` (one more entry than slots).
        var starts: [Int] = []
        var ordinals: [Int] = []

        init() {
            starts = [Int](repeating: 0, count: DocValues.perBlock + 1)
        }

        init(decoding bytes: UnsafeRawBufferPointer) {
            var reader = ByteReader(bytes)
            let count = Int(reader.u16())
            dictionary.reserveCapacity(count)
            for _ in 0..<count {
                let length = Int(reader.varint())
                dictionary.append([UInt8](UnsafeRawBufferPointer(rebasing: bytes[reader.offset..<reader.offset + length])))
                reader.offset += length
            }
            starts.reserveCapacity(DocValues.perBlock + 1)
            for _ in 0..<DocValues.perBlock {
                starts.append(ordinals.count)
                for _ in 0..<reader.varint() { ordinals.append(Int(reader.varint())) }
            }
            starts.append(ordinals.count)
        }

        /// Reads an encoded block's dictionary in place: each value's byte range in `bytes`,
        /// into `ranges` (scratch space, replaced). Returns where the slots start.
        static func dictionary(_ bytes: UnsafeRawBufferPointer, into ranges: inout [Range<Int>]) -> Int {
            var reader = ByteReader(bytes)
            let size = Int(reader.u16())
            ranges.removeAll(keepingCapacity: true)
            ranges.reserveCapacity(size)
            for _ in 0..<size {
                let length = Int(reader.varint())
                ranges.append(reader.offset..<reader.offset + length)
                reader.offset += length
            }
            return reader.offset
        }

        /// Visits the values of `slots` (ascending) in an encoded block, read in place from
        /// `start` (what ``dictionary(_:into:)`` returned): `body` gets the slot's position in
        /// `slots` and the number of each of its values in the block's dictionary.
        static func forEachValue(_ bytes: UnsafeRawBufferPointer, from start: Int, slots: some Sequence<Int>,
                                 _ body: (Int, Int) throws -> Void) rethrows {
            var reader = ByteReader(bytes, offset: start)
            var slot = 0
            for (position, wanted) in slots.enumerated() {
                // Skip the slots before the wanted one.
                while slot < wanted {
                    for _ in 0..<reader.varint() { _ = reader.varint() }
                    slot += 1
                }
                for _ in 0..<reader.varint() { try body(position, Int(reader.varint())) }
                slot += 1
            }
        }

        /// Counts the values of `slots` (ascending) in an encoded block, read in place: `report`
        /// gets each value that occurs (its bytes) with its count. `local` and `ranges` are
        /// scratch space.
        static func count(_ bytes: UnsafeRawBufferPointer, slots: some Sequence<Int>, into local: inout [Int],
                          ranges: inout [Range<Int>], report: ([UInt8], Int) -> Void) {
            let start = dictionary(bytes, into: &ranges)
            local.removeAll(keepingCapacity: true)
            local.append(contentsOf: repeatElement(0, count: ranges.count))
            forEachValue(bytes, from: start, slots: slots) { _, ordinal in local[ordinal] += 1 }
            for (ordinal, count) in local.enumerated() where count > 0 {
                report([UInt8](UnsafeRawBufferPointer(rebasing: bytes[ranges[ordinal]])), count)
            }
        }

        /// The distinct values of a slot, in its document's order.
        func values(_ slot: Int) -> ArraySlice<Int> { ordinals[starts[slot]..<starts[slot + 1]] }

        /// Every slot's values as byte strings (for an update).
        func slots() -> [[[UInt8]]] {
            (0..<DocValues.perBlock).map { slot in values(slot).map { dictionary[$0] } }
        }

        /// A block of these slots' values; each slot's repeats are dropped.
        init(slots: [[[UInt8]]]) {
            var numbers: [[UInt8]: Int] = [:]
            for slot in slots {
                starts.append(ordinals.count)
                var seen = Set<Int>()
                for value in slot {
                    let ordinal = numbers[value] ?? {
                        dictionary.append(value)
                        numbers[value] = dictionary.count - 1
                        return dictionary.count - 1
                    }()
                    if seen.insert(ordinal).inserted { ordinals.append(ordinal) }
                }
            }
            starts.append(ordinals.count)
        }

        var isEmpty: Bool { ordinals.isEmpty }

        func encoded() -> [UInt8] {
            var writer = ByteWriter(capacity: 2 + DocValues.perBlock * 2)
            withUnsafeBytes(of: UInt16(dictionary.count).littleEndian) { writer.bytes.append(contentsOf: $0) }
            for value in dictionary {
                writer.varint(value.count)
                writer.bytes.append(contentsOf: value)
            }
            for slot in 0..<DocValues.perBlock {
                let values = values(slot)
                writer.varint(values.count)
                for ordinal in values { writer.varint(ordinal) }
            }
            return writer.bytes
        }
    }

    /// Writes changed values (nil: the document no longer has one) of one field into its blocks;
    /// a block left without values is deleted.
    static func write(_ changes: [UInt32: FieldValue?], field: Int, type: SearchMapping.FieldType, in txn: KeyValueTransaction) throws {
        var byBlock: [UInt32: [(slot: Int, value: FieldValue?)]] = [:]
        for (doc, value) in changes {
            byBlock[doc / SearchTables.normsPerBlock, default: []].append((Int(doc % SearchTables.normsPerBlock), value))
        }
        for (block, slots) in byBlock {
            let key = key(field, block: block)
            let encoded: [UInt8]?
            if type == .keyword {
                var values = try txn.withValue(key, in: SearchTables.values) { $0.map { Keywords(decoding: $0).slots() } }
                    ?? [[[UInt8]]](repeating: [], count: perBlock)
                for (slot, value) in slots {
                    if case .keywords(let keywords)? = value { values[slot] = keywords.map { Array($0.utf8) } } else { values[slot] = [] }
                }
                let updated = Keywords(slots: values)
                encoded = updated.isEmpty ? nil : updated.encoded()
            } else {
                var numbers = try txn.withValue(key, in: SearchTables.values) { $0.map(Numbers.init(decoding:)) } ?? Numbers()
                for (slot, value) in slots { numbers.set(slot, value?.number) }
                encoded = numbers.isEmpty ? nil : numbers.encoded()
            }
            if let encoded {
                try txn.put(key, encoded, in: SearchTables.values)
            } else {
                try txn.delete(key, in: SearchTables.values)
            }
        }
    }
}
