import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuSearch

/// Doc value blocks decode to what was encoded, whatever the values: integers packed at any
/// width (one value, a wide spread, negatives, the largest exact integers), doubles that are
/// not integers (fractions, -0, huge), missing slots, and keywords with repeats and strings
/// equal as Swift Strings but not as bytes. Prints its seed; replay with KIROKU_SEED.
@Suite struct DocValuesTests {
    @Test func numberBlocksRoundTrip() {
        let seed = SeededGenerator.seed(label: "numberBlocksRoundTrip")
        var random = SeededGenerator(seed: seed)
        let specials: [Double] = [0, -0.0, 1, -1, 0.5, 8.9e15, -8.9e15, 9.1e15, 1e300, -1e-300, 1_704_067_200, .greatestFiniteMagnitude]
        for round in 0..<300 {
            var block = DocValues.Numbers()
            var expected = [Double?](repeating: nil, count: DocValues.perBlock)
            let spread = [0, 1, 255, 1 << 20, 1 << 40, Int64(8.9e15)].randomElement(using: &random)!
            let base = Int64.random(in: -1_000_000...1_000_000, using: &random)
            for slot in 0..<DocValues.perBlock where Int.random(in: 0..<4, using: &random) > 0 {
                let value: Double
                // A third of the blocks hold integers only (packed), the others a few others too.
                switch (round % 3, Int.random(in: 0..<20, using: &random)) {
                case (1, 0): value = specials.randomElement(using: &random)!
                case (2, 0): value = Double.random(in: -1e6...1e6, using: &random)
                default: value = Double(base + Int64.random(in: 0...spread, using: &random))
                }
                block.set(slot, value)
                expected[slot] = value
            }
            // Some slots set and then cleared.
            for _ in 0..<5 {
                let slot = Int.random(in: 0..<DocValues.perBlock, using: &random)
                block.set(slot, nil)
                expected[slot] = nil
            }
            let encoded = block.encoded()
            let decoded = encoded.withUnsafeBytes { DocValues.Numbers(decoding: $0) }
            // Decoded whole (an update) and read one slot in place (a query) alike.
            let wrong = (0..<DocValues.perBlock).first { slot in
                let inPlace = encoded.withUnsafeBytes { DocValues.Numbers.value(in: $0, slot: slot) }
                return decoded.value(slot)?.bitPattern != expected[slot]?.bitPattern || inPlace?.bitPattern != expected[slot]?.bitPattern
            }
            #expect(wrong == nil, "seed \(seed), round \(round), slot \(wrong ?? 0): \(String(describing: wrong.flatMap(decoded.value))) != \(String(describing: wrong.flatMap { expected[$0] }))")
        }
    }

    @Test func keywordBlocksRoundTrip() {
        let seed = SeededGenerator.seed(label: "keywordBlocksRoundTrip")
        var random = SeededGenerator(seed: seed)
        let words = ["café", "cafe\u{301}", "", "x", "東京", String(repeating: "k", count: 300), "a\u{0}b"]
        for round in 0..<100 {
            var slots = [[[UInt8]]](repeating: [], count: DocValues.perBlock)
            for slot in slots.indices where Bool.random(using: &random) {
                slots[slot] = (0..<Int.random(in: 1...4, using: &random)).map { _ in Array(words.randomElement(using: &random)!.utf8) }
            }
            let encoded = DocValues.Keywords(slots: slots).encoded()
            let decoded = encoded.withUnsafeBytes { DocValues.Keywords(decoding: $0) }
            // Facet counts read in place over some slots equal a count over the decoded block.
            let wanted = slots.indices.filter { _ in Int.random(in: 0..<3, using: &random) == 0 }
            var expectedCounts: [[UInt8]: Int] = [:]
            for slot in wanted { for ordinal in decoded.values(slot) { expectedCounts[decoded.dictionary[ordinal], default: 0] += 1 } }
            var counted: [[UInt8]: Int] = [:]
            var scratch: [Int] = []
            var ranges: [Range<Int>] = []
            encoded.withUnsafeBytes { bytes in
                DocValues.Keywords.count(bytes, slots: wanted, into: &scratch, ranges: &ranges) { counted[$0, default: 0] += $1 }
            }
            #expect(counted == expectedCounts, "seed \(seed), round \(round): facet counts")
            // Each wanted slot's values read in place, in order, equal the decoded block's.
            var visited = [[[UInt8]]](repeating: [], count: wanted.count)
            encoded.withUnsafeBytes { bytes in
                let start = DocValues.Keywords.dictionary(bytes, into: &ranges)
                DocValues.Keywords.forEachValue(bytes, from: start, slots: wanted) { position, ordinal in
                    visited[position].append([UInt8](UnsafeRawBufferPointer(rebasing: bytes[ranges[ordinal]])))
                }
            }
            #expect(visited == wanted.map { slot in decoded.values(slot).map { decoded.dictionary[$0] } }, "seed \(seed), round \(round): values in place")
            // Each slot keeps its distinct values in their first order.
            let wrong = slots.indices.first { slot in
                var distinct: [[UInt8]] = []
                for value in slots[slot] where !distinct.contains(value) { distinct.append(value) }
                return decoded.values(slot).map { decoded.dictionary[$0] } != distinct
            }
            #expect(wrong == nil, "seed \(seed), round \(round), slot \(wrong ?? 0)")
        }
    }
}
