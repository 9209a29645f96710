import Foundation
import KirokuLog
import KirokuProjections

/// Applies a batch of records to a search view's index inside the projection's transaction.
///
/// Changes are folded per document id first (an update merges its fields into the document),
/// then each touched document is removed (its old postings, range entries and norms, found by
/// re-analyzing its stored values) and written again under the same doc number (a new document
/// takes the next number, or a freed one once they are all handed out). New documents' postings
/// grow at their end; updates and removals rewrite the few blocks they touch: nothing grows
/// without bound, and there are no tombstones.
struct IndexWriter {
    let txn: KeyValueTransaction
    let mapping: SearchMapping

    private struct Touched {
        var original: (doc: UInt32, stored: StoredDocument)?
        var current: [Int: FieldValue]?
        /// Terms of current values analyzed ahead of the transaction, by field.
        var analyzed: [Int: [TermKey: [UInt32]]] = [:]
    }

    /// The part of a batch that needs no state: each record's change, its fields checked
    /// against the schema and their terms analyzed. The runner computes it for the next batch
    /// while the current one is applied.
    struct Prepared: Sendable {
        struct Item: Sendable {
            let change: SearchMapping.Change
            /// The record's key when the change is to a document whose id is not the key
            /// (noted in `search-keys`, so the key's deletion finds it), or, for a deletion
            /// marker, the key whose documents go.
            var key: String?
            /// Whether the item is a key's deletion: every document the key wrote to goes.
            var deletesKey = false
            /// Field index → value and terms (text and keyword fields), in the change's order.
            let fields: [(index: Int, value: FieldValue, terms: [TermKey: [UInt32]])]
        }
        let items: [Item?]
    }

    static func prepare(_ records: [Record], mapping: SearchMapping) throws -> Prepared {
        return Prepared(items: try records.map { record -> Prepared.Item? in
            // A deletion marker removes what the key wrote; an erased record has nothing to map.
            if record.deletion != nil {
                return Prepared.Item(change: .delete(id: record.key), key: record.key, deletesKey: true, fields: [])
            }
            if record.isErased { return nil }
            guard let change = try mapping.document(record) else { return nil }
            guard case .upsert(let id, let fields) = change else { return Prepared.Item(change: change, fields: []) }
            return Prepared.Item(change: change, key: id.utf8Equals(record.key) ? nil : record.key, fields: try fields.map { name, value in
                let index = try index(of: name, for: value, record: record, mapping: mapping)
                return (index, value, terms(index, value, analyzer: Analyzer(for: mapping.fields[index])))
            })
        })
    }

    func apply(_ records: [Record], prepared: Prepared? = nil) throws {
        let docValues = try IndexStats.saveSchema(mapping.fields, txn)
        let items = try prepared?.items ?? Self.prepare(records, mapping: mapping).items
        var order: [String] = []
        // Document ids by their bytes, as the index stores them.
        var touched: [ExactString: Touched] = [:]
        for item in items {
            guard let item else { continue }
            if item.deletesKey, let key = item.key {
                // Every document the key wrote to (as noted in search-keys), and the one named by it.
                let prefix = Self.keyPrefix(key)
                var ids = [key]
                for entry in try txn.entries(in: SearchTables.keys, prefix: prefix, limit: Int.max) {
                    ids.append(String(decoding: entry.value, as: UTF8.self))
                    try txn.delete(entry.key, in: SearchTables.keys)
                }
                for id in ids {
                    var state = try touched[ExactString(id)] ?? load(id, order: &order)
                    state.current = nil
                    state.analyzed = [:]
                    touched[ExactString(id)] = state
                }
                continue
            }
            if let key = item.key, case .upsert(let id, _) = item.change {
                try txn.put(Self.keyPrefix(key) + withUnsafeBytes(of: FNV1a.hash(Array(id.utf8)).bigEndian) { Array($0) },
                            Array(id.utf8), in: SearchTables.keys)
            }
            switch item.change {
            case .upsert(let id, _):
                var state = try touched[ExactString(id)] ?? load(id, order: &order)
                var values = state.current ?? [:]
                for field in item.fields {
                    values[field.index] = field.value
                    state.analyzed[field.index] = field.terms
                }
                state.current = values
                touched[ExactString(id)] = state
            case .delete(let id):
                var state = try touched[ExactString(id)] ?? load(id, order: &order)
                state.current = nil
                state.analyzed = [:]
                touched[ExactString(id)] = state
            }
        }
        guard !order.isEmpty else { return }

        var stats = try IndexStats(txn)
        var removals: [TermKey: [UInt32]] = [:]
        var additions: [TermKey: [PostingBlock.Entry]] = [:]
        var norms: [Int: [UInt32: UInt16]] = [:]
        // Doc values by field and doc (nil: removed).
        var values: [Int: [UInt32: FieldValue?]] = [:]
        for id in order {
            let state = touched[ExactString(id)]!
            // An update keeps its document's number (a page cursor orders ties by number, so a
            // document whose matching and sorting values did not change keeps its place), and
            // a field it leaves as it was keeps its postings, range entry and norm untouched.
            let unchanged: Set<Int> = state.original.map { original in
                Set(original.stored.values.compactMap { field, value in value.identical(to: state.current?[field]) ? field : nil })
            } ?? []
            if let (doc, stored) = state.original {
                if let current = state.current, current.count == stored.values.count,
                   current.allSatisfy({ $0.value.identical(to: stored.values[$0.key]) }) { continue }
                for (field, value) in stored.values where !unchanged.contains(field) {
                    let terms = Self.terms(field, value, analyzer: Analyzer(for: mapping.fields[field]))
                    for term in terms.keys { removals[term, default: []].append(doc) }
                    if let number = value.number {
                        try txn.delete(IndexKey.range(field, number, doc), in: SearchTables.ranges)
                    }
                    if docValues, value.hasDocValue { values[field, default: [:]][doc] = .some(nil) }
                    if case .text = value {
                        norms[field, default: [:]][doc] = 0
                        stats.totalLength[field, default: 0] -= UInt64(terms.values.reduce(0) { $0 + $1.count })
                    }
                }
                try txn.delete(IndexKey.doc(doc), in: SearchTables.docs)
                try txn.delete(IndexKey.id(id), in: SearchTables.ids)
                stats.documents -= 1
            }
            guard let current = state.current else { continue }
            let doc = try state.original?.doc ?? stats.allocateDoc(txn)
            for (field, value) in current where !unchanged.contains(field) {
                if docValues, value.hasDocValue { values[field, default: [:]][doc] = value }
                let terms = state.analyzed[field] ?? Self.terms(field, value, analyzer: Analyzer(for: mapping.fields[field]))
                for (term, positions) in terms {
                    additions[term, default: []].append(PostingBlock.Entry(doc: doc, positions: positions))
                }
                if let number = value.number {
                    try txn.put(IndexKey.range(field, number, doc), [], in: SearchTables.ranges)
                }
                if case .text = value {
                    let count = terms.values.reduce(0) { $0 + $1.count }
                    norms[field, default: [:]][doc] = UInt16(min(count + 1, Int(UInt16.max)))
                    stats.totalLength[field, default: 0] += UInt64(count)
                }
            }
            try txn.put(IndexKey.doc(doc), StoredDocument(id: id, values: current).encoded(), in: SearchTables.docs)
            try txn.put(IndexKey.id(id), IndexKey.doc(doc), in: SearchTables.ids)
            stats.documents += 1
        }
        // In key order, for locality in LMDB's B-tree. Terms that differ only past the cut
        // of long terms share a key: their entries merge.
        var removalsByKey: [[UInt8]: Set<UInt32>] = [:]
        for (term, docs) in removals { removalsByKey[term.bytes, default: []].formUnion(docs) }
        for key in removalsByKey.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            try remove(removalsByKey[key]!.sorted(), from: key, stats: &stats)
        }
        var additionsByKey: [[UInt8]: [PostingBlock.Entry]] = [:]
        for (term, entries) in additions {
            let key = term.bytes
            if let existing = additionsByKey[key] {
                var merged: [UInt32: [UInt32]] = [:]
                for entry in existing + entries { merged[entry.doc, default: []].append(contentsOf: entry.positions) }
                additionsByKey[key] = merged.keys.sorted().map { PostingBlock.Entry(doc: $0, positions: merged[$0]!.sorted()) }
            } else {
                additionsByKey[key] = entries
            }
        }
        for key in additionsByKey.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            // Reused doc numbers (see IndexStats.allocateDoc) come out of order.
            try append(additionsByKey[key]!.sorted { $0.doc < $1.doc }, to: key)
        }
        for (field, updates) in norms { try write(norms: updates, field: field) }
        for (field, changes) in values { try DocValues.write(changes, field: field, type: mapping.fields[field].type, in: txn) }
        try stats.save(txn)
    }

    /// The `search-keys` prefix of a record key: its length (1 byte) and UTF-8.
    static func keyPrefix(_ key: String) -> [UInt8] {
        [UInt8(min(key.utf8.count, 255))] + Array(key.utf8)
    }

    private func load(_ id: String, order: inout [String]) throws -> Touched {
        order.append(id)
        guard let docBytes = try txn.get(IndexKey.id(id), in: SearchTables.ids) else { return Touched() }
        let doc = docBytes.withUnsafeBytes { IndexKey.readDoc($0, at: 0) }
        let stored = try txn.withValue(IndexKey.doc(doc), in: SearchTables.docs) { $0.map(StoredDocument.init(decoding:)) }
        guard let stored, stored.id.utf8Equals(id) else { return Touched() }
        return Touched(original: (doc, stored), current: stored.values)
    }

    static func index(of name: String, for value: FieldValue, record: Record, mapping: SearchMapping) throws -> Int {
        guard let (index, field) = mapping.field(named: name) else {
            throw KirokuError(.mappingFailed, "Record \(record.position) (\(record.type)): the mapping gave field '\(name)', which its schema does not declare (\(mapping.fields.map(\.name).joined(separator: ", "))).", position: record.position)
        }
        let fits: Bool
        switch (field.type, value) {
        case (.text, .text), (.keyword, .keywords), (.number, .number), (.date, .date): fits = true
        default: fits = false
        }
        guard fits else {
            throw KirokuError(.mappingFailed, "Record \(record.position) (\(record.type)): field '\(name)' is \(field.type.rawValue) but the mapping gave \(value).", position: record.position)
        }
        return index
    }

    /// A term of a field until it is written. Terms come out of the analyzer normalized, so
    /// it hashes and compares their UTF-8 bytes, skipping `String`'s Unicode-aware (and, for
    /// Japanese, much slower) hashing and equality.
    struct TermKey: Hashable {
        var field: Int
        var term: String
        var bytes: [UInt8] { IndexKey.term(field, term) }

        static func == (a: TermKey, b: TermKey) -> Bool {
            guard a.field == b.field, a.term.utf8.count == b.term.utf8.count else { return false }
            var x = a.term, y = b.term
            return x.withUTF8 { p in y.withUTF8 { q in p.isEmpty || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 } }
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(field)
            var term = term
            term.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }

    /// The index terms of a value with their positions (empty for keywords).
    static func terms(_ field: Int, _ value: FieldValue, analyzer: Analyzer) -> [TermKey: [UInt32]] {
        switch value {
        case .text(let text):
            let tokens = analyzer.tokens(text)
            var terms: [TermKey: [UInt32]] = [:]
            terms.reserveCapacity(tokens.count)
            for token in tokens {
                terms[TermKey(field: field, term: token.term), default: []].append(UInt32(token.position))
            }
            return terms
        case .keywords(let keywords):
            var terms: [TermKey: [UInt32]] = [:]
            for keyword in keywords { terms[TermKey(field: field, term: keyword)] = [] }
            return terms
        case .number, .date:
            return [:]
        }
    }

    private func positional(_ term: [UInt8]) -> Bool {
        mapping.fields[Int(term[0])].type == .text
    }

    /// Adds entries (in doc order) to a term's postings: appended to the last block, opening new
    /// blocks as blocks fill up, when they all come after the term's last doc (new documents
    /// take increasing numbers); else merged into the blocks where they belong.
    private func append(_ entries: [PostingBlock.Entry], to term: [UInt8]) throws {
        let positional = positional(term)
        var frequency: UInt32 = 0
        var block: PostingBlock
        var size: Int
        if let info = try txn.get(term, in: SearchTables.terms) {
            let (count, lastFirst) = info.withUnsafeBytes { raw in
                var reader = ByteReader(raw)
                return (reader.u32(), reader.u32())
            }
            frequency = count
            (block, size) = try txn.withValue(IndexKey.block(term, first: lastFirst), in: SearchTables.postings) { raw in
                guard let raw else { return (PostingBlock(first: entries[0].doc, positional: positional), 0) }
                return (PostingBlock(first: lastFirst, decoding: raw, positional: positional), raw.count)
            }
            if let lastDoc = block.entries.last?.doc ?? (block.entries.isEmpty ? nil : lastFirst), entries[0].doc <= lastDoc {
                return try merge(entries, into: term, frequency: frequency, lastFirst: lastFirst)
            }
        } else {
            block = PostingBlock(first: entries[0].doc, positional: positional)
            size = 0
        }
        let last = try write(entries, after: block, size: size, term: term)
        try writeTerm(term, frequency: frequency + UInt32(entries.count), lastFirst: last)
    }

    /// Writes `entries` (in doc order) into `block` (holding `size` bytes already) and the
    /// blocks opened after it as each fills up (``PostingBlock/maxCount`` entries or about
    /// ``PostingBlock/maxBytes`` bytes). Returns the first doc of the last block written.
    private func write(_ entries: some Collection<PostingBlock.Entry>, after block: PostingBlock, size: Int, term: [UInt8]) throws -> UInt32 {
        var block = block
        var size = size
        for entry in entries {
            if !block.entries.isEmpty, block.entries.count >= PostingBlock.maxCount || size >= PostingBlock.maxBytes {
                try txn.put(IndexKey.block(term, first: block.first), block.encoded(), in: SearchTables.postings)
                block = PostingBlock(first: entry.doc, positional: block.positional)
                size = 0
            }
            block.entries.append(entry)
            size += PostingBlock.size(of: entry)
        }
        try txn.put(IndexKey.block(term, first: block.first), block.encoded(), in: SearchTables.postings)
        return block.first
    }

    /// Merges entries (in doc order) into the blocks that cover them: each block takes the
    /// entries below the next block's first doc (the first block also those before it), and is
    /// split when it grows past a block's size.
    private func merge(_ entries: [PostingBlock.Entry], into term: [UInt8], frequency: UInt32, lastFirst: UInt32) throws {
        let positional = positional(term)
        let prefix = term + [0]
        var pending = entries[...]
        var frequency = frequency
        var lastFirst = lastFirst
        while let entry = pending.first {
            // The block at or before the entry, else the term's first block.
            var found = try txn.last(in: SearchTables.postings, prefix: prefix, atOrBefore: IndexKey.block(term, first: entry.doc))
            if found == nil {
                try txn.forEach(in: SearchTables.postings, prefix: prefix) { key, value in
                    found = ([UInt8](key), [UInt8](value))
                    return false
                }
            }
            var blockKey: [UInt8]?
            var block = PostingBlock(first: entry.doc, positional: positional)
            if let (key, value) = found {
                blockKey = key
                let first = key.withUnsafeBytes { IndexKey.readDoc($0, at: prefix.count) }
                block = value.withUnsafeBytes { PostingBlock(first: first, decoding: $0, positional: positional) }
            }
            // The next block's first doc bounds what this block takes.
            var nextFirst: UInt32?
            if let blockKey, block.first < UInt32.max {
                try txn.forEach(in: SearchTables.postings, prefix: prefix, from: IndexKey.block(term, first: block.first + 1)) { key, _ in
                    if key.count == blockKey.count { nextFirst = IndexKey.readDoc(key, at: prefix.count) }
                    return false
                }
            }
            let taken = pending.prefix { nextFirst == nil || $0.doc < nextFirst! }
            pending = pending.dropFirst(taken.count)
            var byDoc: [UInt32: PostingBlock.Entry] = [:]
            for existing in block.entries { byDoc[existing.doc] = existing }
            for added in taken {
                if byDoc[added.doc] == nil { frequency += 1 }
                byDoc[added.doc] = added
            }
            let merged = byDoc.keys.sorted().map { byDoc[$0]! }
            if let blockKey { try txn.delete(blockKey, in: SearchTables.postings) }
            let written = try write(merged, after: PostingBlock(first: merged[0].doc, positional: positional), size: 0, term: term)
            if nextFirst == nil { lastFirst = written }
        }
        try writeTerm(term, frequency: frequency, lastFirst: lastFirst)
    }

    private func writeTerm(_ term: [UInt8], frequency: UInt32, lastFirst: UInt32) throws {
        var writer = ByteWriter(capacity: 8)
        writer.u32(frequency)
        writer.u32(lastFirst)
        try txn.put(term, writer.bytes, in: SearchTables.terms)
    }

    /// Removes documents (sorted) from a term's postings, rewriting or deleting the blocks
    /// that held them, and the term itself when no document is left.
    ///
    /// Each pass consumes at least one document, so the loop ends whatever the postings hold.
    /// A document that is not where it should be (the analyzer's output changed since it was
    /// indexed, or the index is damaged) is counted in the view's statistics
    /// (``IndexStats/missingPostings``), which `kiroku verify` reports, rather than looped on.
    private func remove(_ docs: [UInt32], from term: [UInt8], stats: inout IndexStats) throws {
        guard let info = try txn.get(term, in: SearchTables.terms) else { return }
        var (frequency, lastFirst) = info.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            return (reader.u32(), reader.u32())
        }
        let positional = positional(term)
        let prefix = term + [0]
        var remaining = docs[...]
        var lastBlockGone = false
        while let doc = remaining.first {
            guard let (key, value) = try txn.last(in: SearchTables.postings, prefix: prefix, atOrBefore: IndexKey.block(term, first: doc)) else {
                stats.missingPostings += 1
                remaining = remaining.dropFirst()
                continue
            }
            let first = key.withUnsafeBytes { IndexKey.readDoc($0, at: prefix.count) }
            var block = value.withUnsafeBytes { PostingBlock(first: first, decoding: $0, positional: positional) }
            // The docs this block can hold; `doc` itself is always among them, so the pass
            // consumes it even when it lies past the block's last entry (it is then missing).
            let last = max(block.entries.last?.doc ?? first, doc)
            let inBlock = Set(remaining.prefix { $0 <= last })
            remaining = remaining.drop { $0 <= last }
            let before = block.entries.count
            block.entries.removeAll { inBlock.contains($0.doc) }
            let removed = before - block.entries.count
            stats.missingPostings += UInt64(inBlock.count - removed)
            frequency -= UInt32(removed)
            if block.entries.isEmpty {
                try txn.delete(key, in: SearchTables.postings)
                if first == lastFirst { lastBlockGone = true }
            } else {
                try txn.put(key, block.encoded(), in: SearchTables.postings)
            }
        }
        if frequency == 0 {
            try txn.delete(term, in: SearchTables.terms)
            return
        }
        if lastBlockGone {
            guard let (key, _) = try txn.last(in: SearchTables.postings, prefix: prefix, atOrBefore: IndexKey.block(term, first: .max)) else {
                try txn.delete(term, in: SearchTables.terms)
                return
            }
            lastFirst = key.withUnsafeBytes { IndexKey.readDoc($0, at: prefix.count) }
        }
        try writeTerm(term, frequency: frequency, lastFirst: lastFirst)
    }

    /// Norms (token count + 1, 0 for none) in blocks of 512 documents; an all-zero block is deleted.
    private func write(norms updates: [UInt32: UInt16], field: Int) throws {
        var byBlock: [UInt32: [(UInt32, UInt16)]] = [:]
        for (doc, norm) in updates { byBlock[doc / SearchTables.normsPerBlock, default: []].append((doc % SearchTables.normsPerBlock, norm)) }
        for (block, changes) in byBlock {
            let key = IndexKey.norms(field, block: block)
            var values = try txn.get(key, in: SearchTables.norms) ?? [UInt8](repeating: 0, count: Int(SearchTables.normsPerBlock) * 2)
            for (slot, norm) in changes {
                values[Int(slot) * 2] = UInt8(norm & 0xFF)
                values[Int(slot) * 2 + 1] = UInt8(norm >> 8)
            }
            if values.allSatisfy({ $0 == 0 }) {
                try txn.delete(key, in: SearchTables.norms)
            } else {
                try txn.put(key, values, in: SearchTables.norms)
            }
        }
    }
}
