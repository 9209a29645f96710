/// A query's hits assigned to buckets (by keyword value, histogram interval, range): each
/// bucket's hit count and, when sub-aggregations need them, the (hit, bucket) pairs in hit
/// order. A hit in several buckets (a multi-valued keyword, overlapping ranges) has a pair for
/// each. Hits are indices into the query's doc-ordered `docs`.
///
/// Metrics over every bucket then take one pass over a field's blocks (``stats(_:of:values:kept:)``)
/// instead of one per bucket; other sub-aggregations get each bucket's own hits (``members(of:kept:)``).
struct HitBuckets {
    private(set) var counts: [Int]
    private(set) var hits: [Int32] = []
    private(set) var buckets: [Int32] = []
    /// Whether pairs are kept (only sub-aggregations read them).
    let keepsPairs: Bool

    init(count: Int = 0, keepingPairs: Bool) {
        counts = [Int](repeating: 0, count: count)
        keepsPairs = keepingPairs
    }

    var count: Int { counts.count }

    /// A new, empty bucket; returns its number.
    mutating func addBucket() -> Int {
        counts.append(0)
        return counts.count - 1
    }

    /// Puts hit `hit` in bucket `bucket`; hits come in ascending order.
    mutating func add(hit: Int, to bucket: Int) {
        counts[bucket] += 1
        guard keepsPairs else { return }
        hits.append(Int32(hit))
        buckets.append(Int32(bucket))
    }

    /// The hits of the buckets in `kept`, as documents in doc order; empty for the others.
    func members(of docs: [UInt32], kept: [Bool]) -> [[UInt32]] {
        var members = [[UInt32]](repeating: [], count: counts.count)
        for bucket in counts.indices where kept[bucket] { members[bucket].reserveCapacity(counts[bucket]) }
        for (hit, bucket) in zip(hits, buckets) where kept[Int(bucket)] {
            members[Int(bucket)].append(docs[Int(hit)])
        }
        return members
    }

    /// Each kept bucket's statistics of a number or date field, in one pass over the field's
    /// blocks for all buckets.
    func stats(_ field: Int, of docs: [UInt32], values: DocValueReader, kept: [Bool]) throws -> [AggregationStats] {
        var stats = [AggregationStats](repeating: AggregationStats(), count: counts.count)
        var pair = 0
        try values.forEachNumber(field, of: docs) { hit, value in
            while pair < hits.count, hits[pair] < hit { pair += 1 }
            guard let value else { return }
            while pair < hits.count, hits[pair] == hit {
                let bucket = Int(buckets[pair])
                if kept[bucket] { stats[bucket].add(value) }
                pair += 1
            }
        }
        return stats.map(\.averaged)
    }
}

extension HitBuckets {
    /// Hits bucketed by the distinct values (by bytes) of a keyword field, a bucket per value
    /// some hit holds, numbered in order of first occurrence; the values come back by number.
    /// With `metric`, each bucket's statistics of that number or date field come back too,
    /// read in the same pass. Each block's values are read in place, and mapped to buckets when
    /// a hit first holds them (one lookup per block and value, not per hit).
    static func keywords(_ field: Int, of docs: [UInt32], values reader: DocValueReader, keepingPairs: Bool,
                         metric: Int? = nil) throws -> (buckets: HitBuckets, values: [[UInt8]], stats: [AggregationStats]) {
        var buckets = HitBuckets(keepingPairs: keepingPairs)
        if keepingPairs {
            buckets.hits.reserveCapacity(docs.count)
            buckets.buckets.reserveCapacity(docs.count)
        }
        var values: [[UInt8]] = []
        var stats: [AggregationStats] = []
        var bucketOf: [ByteKey: Int] = [:]
        var local: [Int] = []
        try reader.forEachKeywordValue(field, of: docs, with: metric, block: { count in
            local.removeAll(keepingCapacity: true)
            local.append(contentsOf: repeatElement(-1, count: count))
        }) { hit, ordinal, bytes, number in
            var bucket = local[ordinal]
            if bucket < 0 {
                let value = bytes()
                bucket = bucketOf[ByteKey(value)] ?? {
                    values.append(value)
                    stats.append(AggregationStats())
                    bucketOf[ByteKey(value)] = buckets.addBucket()
                    return buckets.count - 1
                }()
                local[ordinal] = bucket
            }
            buckets.add(hit: hit, to: bucket)
            if let number { stats[bucket].add(number) }
        }
        return (buckets, values, stats.map(\.averaged))
    }
}

extension AggregationStats {
    /// No values yet.
    init() {
        self.init(count: 0, sum: 0, min: nil, max: nil, avg: nil)
    }

    /// Adds one value (``averaged`` then sets `avg`).
    mutating func add(_ value: Double) {
        count += 1
        sum += value
        min = Swift.min(min ?? value, value)
        max = Swift.max(max ?? value, value)
    }

    /// Adds another set's values (``averaged`` then sets `avg`).
    mutating func merge(_ other: AggregationStats) {
        count += other.count
        sum += other.sum
        if let low = other.min { min = Swift.min(min ?? low, low) }
        if let high = other.max { max = Swift.max(max ?? high, high) }
    }

    /// These statistics with `avg` set from the count and sum.
    var averaged: AggregationStats {
        var stats = self
        stats.avg = count > 0 ? sum / Double(count) : nil
        return stats
    }
}
