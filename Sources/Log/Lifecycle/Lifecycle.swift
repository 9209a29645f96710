import CLMDB
import Foundation

/// Removal and erasure inside one of the writer's transactions, in bounded steps.
///
/// Work comes from two places: the `lifecycle` table, where deletions, erasures and
/// truncations leave what is still to do for a key, and the retention policies in `meta`.
/// Each step does at most `budget` records, so no transaction grows without bound and appends
/// queued meanwhile wait for one bounded step at most.
///
/// Every removal takes a key's lowest stored version, so a key's stored records stay exactly
/// `lowestPresent ... latest` (see ``KeyEntry``): its history reads and verifies whole.
struct Lifecycle {
    let layout: StoreLayout
    let txn: Transaction
    /// The log's last position: never removed, so positions go on from it.
    let head: UInt64
    /// Records this step may still remove or erase.
    var budget: Int
    /// Records this step may still look at without acting on them (scans of other keys).
    var scanBudget: Int
    var report = RetentionReport()
    private var removedThrough: UInt64
    private var removedCount: UInt64
    private var erasedCount: UInt64
    /// Key entries read or changed by this step, written back by ``finish()``.
    private var entries: [[UInt8]: KeyEntry] = [:]
    private var dirty: Set<[UInt8]> = []

    static let removedRecordsKey = "removed-records"
    static let removedThroughKey = "removed-through"
    static let erasedRecordsKey = "erased-records"
    static let retentionKey = "retention"
    static let retentionStateKey = "retention-state"
    /// 1 while an erasure's freed pages have not been scrubbed.
    static let scrubPendingKey = "scrub-pending"

    enum Kind: UInt8 {
        /// Remove the key's versions below the target.
        case remove = 1
        /// Erase the payloads of the key's versions below the target.
        case erase = 2
    }

    /// How long one step may run: a step ends at its record budget or at this, whichever
    /// comes first, so an append queued behind it waits about this long at most.
    static let stepTime: Duration = .milliseconds(10)
    private let deadline = ContinuousClock.now + Lifecycle.stepTime
    private var sinceClock = 0

    init(layout: StoreLayout, txn: Transaction, head: UInt64, budget: Int) throws {
        self.layout = layout
        self.txn = txn
        self.head = head
        self.budget = max(1, budget)
        self.scanBudget = max(1, budget) * 8
        removedThrough = try layout.counter(Self.removedThroughKey, in: txn)
        removedCount = try layout.counter(Self.removedRecordsKey, in: txn)
        erasedCount = try layout.counter(Self.erasedRecordsKey, in: txn)
    }

    // MARK: Deletions (called where the marker is written)

    /// Applies a deletion marker just written as `entry.latest`: the key's earlier versions are
    /// hidden, a hard delete closes the key, and the work left (removing the hidden records,
    /// or erasing their payloads) goes into the `lifecycle` table.
    static func noteDeletion(_ key: UnsafeRawBufferPointer, entry: inout KeyEntry, hard: Bool, erase: Bool,
                             layout: StoreLayout, in txn: Transaction) throws {
        let marker = entry.latest.version
        entry.firstVisible = marker + 1
        if hard { entry.isClosed = true }
        try layout.raiseFormat(in: txn)
        // An erasure owes a scrub from now on, even if a later deletion removes the records
        // before its own step erases them (their bytes are then in freed pages all the same).
        if erase { try layout.setCounter(scrubPendingKey, 1, in: txn) }
        if entry.lowestPresent < marker {
            try enqueue(erase ? .erase : .remove, key: key, target: marker, next: entry.lowestPresent, layout: layout, in: txn)
        }
    }

    /// Leaves work for a key: `target` is the first version not touched.
    static func enqueue(_ kind: Kind, key: UnsafeRawBufferPointer, target: UInt64, next: UInt64,
                        layout: StoreLayout, in txn: Transaction) throws {
        var queueKey = [kind.rawValue]
        queueKey.append(contentsOf: key)
        var value: [UInt8] = []
        for number in [target, next] { withUnsafeBytes(of: number.bigEndian) { value.append(contentsOf: $0) } }
        try queueKey.withUnsafeBytes { k in try value.withUnsafeBytes { try txn.put(layout.lifecycle, k, $0) } }
    }

    /// Whether the `lifecycle` table holds work.
    static func hasQueuedWork(layout: StoreLayout, in txn: Transaction) throws -> Bool {
        try txn.entryCount(layout.lifecycle) > 0
    }

    // MARK: The queue

    /// Works through the `lifecycle` table; returns whether work is left.
    mutating func runQueue() throws -> Bool {
        while true {
            let next: (key: [UInt8], value: [UInt8])? = try txn.withCursor(layout.lifecycle) { cursor in
                try cursor.get(MDB_FIRST).map { (Array($0.key), Array($0.value)) }
            }
            guard let next else { return false }
            if budget == 0 { return true }
            guard next.key.count > 1, next.value.count == 16, let kind = Kind(rawValue: next.key[0]) else {
                try next.key.withUnsafeBytes { try txn.delete(layout.lifecycle, $0) }
                continue
            }
            let key = Array(next.key.dropFirst())
            let (target, start) = next.value.withUnsafeBytes { (BigEndianKey.value($0, at: 0), BigEndianKey.value($0, at: 8)) }
            var done: Bool
            switch kind {
            case .remove:
                done = try removeRun(key, through: target - 1, lossy: false)
            case .erase:
                let reached = try eraseRun(key, from: start, through: target - 1)
                done = reached > target - 1
                if !done {
                    try key.withUnsafeBytes { try Self.enqueue(.erase, key: $0, target: target, next: reached, layout: layout, in: txn) }
                }
            }
            if !done && budget > 0 { done = true }  // stopped at the head: nothing more to do
            if done {
                try next.key.withUnsafeBytes { try txn.delete(layout.lifecycle, $0) }
            } else {
                return true
            }
        }
    }

    // MARK: Policies

    /// Per-policy progress, kept in `meta` "retention-state".
    struct PolicyState: Codable, Equatable {
        /// The policy this state belongs to (a changed list starts afresh).
        var policy: RetentionPolicy
        /// Scans of prefix or type policies go on from this position.
        var scanFrom: UInt64 = 1
        /// Per-key policies go on after this key.
        var keyCursor: Data?
        /// The enforcement run that finished this policy's pass over its keys.
        var completedRun: UInt64 = 0
    }

    /// Applies the policies; returns whether work is left.
    mutating func runPolicies(run: UInt64, nowMicros: Int64) throws -> Bool {
        let policies = try Self.policies(layout: layout, in: txn)
        guard !policies.isEmpty else { return false }
        let stored = try Self.states(layout: layout, in: txn)
        var states = stored.map(\.policy) == policies ? stored : policies.map { PolicyState(policy: $0) }
        var more = false
        for index in states.indices {
            if budget == 0 || scanBudget == 0 { more = true; break }
            more = try apply(&states[index], run: run, nowMicros: nowMicros) || more
        }
        // Written only when a step moved it: an idle enforcement loop writes nothing.
        if states != stored {
            let encoded = try JSONEncoder().encode(states)
            try Self.retentionStateKey.withUTF8Bytes { key in try encoded.withUnsafeBytes { try txn.put(layout.meta, key, $0) } }
        }
        return more
    }

    private mutating func apply(_ state: inout PolicyState, run: UInt64, nowMicros: Int64) throws -> Bool {
        let policy = state.policy
        let prefix = policy.prefix.map { Array($0.utf8) }
        switch policy.rule {
        case .maxAge(let seconds):
            let cutoff = nowMicros - Int64(seconds * 1_000_000)
            if prefix == nil && policy.types == nil {
                return try removeOldest { view, _ in view.timestampMicros < cutoff }
            }
            return try scan(&state, prefix: prefix, types: policy.types.map { Set($0.map { Array($0.utf8) }) }, cutoff: cutoff)
        case .maxRecords(let count):
            let records = layout.records
            return try removeOldest { _, txn in try txn.entryCount(records) > count }
        case .maxBytes(let bytes):
            var removedSinceCheck = 0
            var over = true
            let records = layout.records
            return try removeOldest { _, txn in
                // Pages change a leaf at a time: measure every few records.
                if removedSinceCheck == 0 { over = try txn.pageBytes(records) > bytes }
                removedSinceCheck = (removedSinceCheck + 1) % 16
                return over
            }
        case .maxCountPerKey(let count):
            guard state.completedRun != run else { return false }
            return try keepLatest(&state, count: UInt64(count), prefix: prefix ?? [], run: run)
        }
    }

    /// Removes the log's oldest records while `condition` holds (never the head).
    private mutating func removeOldest(_ condition: (RecordCodec.View, Transaction) throws -> Bool) throws -> Bool {
        while budget > 0 {
            let oldest: (position: UInt64, version: UInt64, key: [UInt8], id: [UInt8]?)? = try txn.withCursor(layout.records) { cursor in
                guard let first = try cursor.get(MDB_FIRST) else { return nil }
                let position = BigEndianKey.value(first.key)
                guard position != head else { return nil }
                let view = try RecordCodec.checkedView(position: position, bytes: first.value)
                guard try condition(view, txn) else { return nil }
                return (position, view.version, Array(view.bytes[view.keyRange]), view.idRange.map { Array(view.bytes[$0]) })
            }
            guard let oldest else { return false }
            var entry = try entry(oldest.key)
            guard entry.lowestPresent == oldest.version else {
                throw KirokuError(.corruption, "Position \(oldest.position) holds version \(oldest.version) of key '\(String(decoding: oldest.key, as: UTF8.self))', whose lowest stored version should be \(entry.lowestPresent); run verify.", position: oldest.position)
            }
            try remove(oldest.key, &entry, position: oldest.position, version: oldest.version, id: oldest.id, lossy: true)
            set(oldest.key, entry)
        }
        return true
    }

    /// Scans old records from the policy's position: removes those of the prefix, or erases
    /// the payloads of those of the types.
    private mutating func scan(_ state: inout PolicyState, prefix: [UInt8]?, types: Set<[UInt8]>?, cutoff: Int64) throws -> Bool {
        while budget > 0 && scanBudget > 0 {
            scanBudget -= 1
            let found: (position: UInt64, version: UInt64, key: [UInt8], id: [UInt8]?, act: Bool)? = try txn.withCursor(layout.records) { cursor in
                guard let entry = try BigEndianKey(state.scanFrom).withBytes({ try cursor.get(MDB_SET_RANGE, key: $0) }) else { return nil }
                let position = BigEndianKey.value(entry.key)
                guard position != head else { return nil }
                let view = try RecordCodec.checkedView(position: position, bytes: entry.value)
                guard view.timestampMicros < cutoff else { return nil }
                let key = UnsafeRawBufferPointer(rebasing: view.bytes[view.keyRange])
                var act = prefix.map { key.starts(with: $0) } ?? true
                if let types {
                    act = act && !view.isErased && view.deletion == nil && types.contains(Array(view.bytes[view.typeRange]))
                }
                return (position, view.version, Array(key), view.idRange.map { Array(view.bytes[$0]) }, act)
            }
            guard let found else { return false }
            state.scanFrom = found.position + 1
            guard found.act else { continue }
            if types != nil {
                try erase(at: found.position)
            } else {
                var entry = try entry(found.key)
                // Removing anything but the key's lowest version would break its history.
                guard entry.lowestPresent == found.version else { continue }
                try remove(found.key, &entry, position: found.position, version: found.version, id: found.id, lossy: true)
                set(found.key, entry)
            }
        }
        return true
    }

    /// Keeps each key's latest `count` versions, one pass over the prefix's keys per run.
    private mutating func keepLatest(_ state: inout PolicyState, count: UInt64, prefix: [UInt8], run: UInt64) throws -> Bool {
        while budget > 0 && scanBudget > 0 {
            scanBudget -= 1
            let after = state.keyCursor.map { Array($0) }
            let next: [UInt8]? = try txn.withCursor(layout.keys) { cursor in
                let start = Transaction.scanStart(prefix: prefix, after: after)
                var entry: Cursor.Entry?
                if start.isEmpty { entry = try cursor.get(MDB_FIRST) } else { entry = try start.withUnsafeBytes { try cursor.get(MDB_SET_RANGE, key: $0) } }
                if let current = entry, let after, current.key.elementsEqual(after) { entry = try cursor.get(MDB_NEXT) }
                guard let current = entry, current.key.starts(with: prefix) else { return nil }
                return Array(current.key)
            }
            guard let key = next else {
                state.keyCursor = nil
                state.completedRun = run
                return false
            }
            let entry = try entry(key)
            if entry.latest.version >= count, entry.lowestPresent <= entry.latest.version - count {
                let finished = try removeRun(key, through: entry.latest.version - count, lossy: false)
                if !finished && budget == 0 { return true }
            }
            state.keyCursor = Data(key)
        }
        return true
    }

    // MARK: Removing and erasing

    /// Removes the key's versions from its lowest stored one through `through`, within the
    /// budget; returns whether they are all gone.
    private mutating func removeRun(_ key: [UInt8], through last: UInt64, lossy: Bool) throws -> Bool {
        var entry = try entry(key)
        guard entry.lowestPresent <= last else { return true }
        let top = min(last, entry.lowestPresent + UInt64(budget) - 1)
        let items = try collect(key, entry: entry, from: entry.lowestPresent, through: top)
        for item in items {
            if item.position == head { break }
            try remove(key, &entry, position: item.position, version: item.version, id: item.id, lossy: lossy)
        }
        set(key, entry)
        return entry.lowestPresent > last
    }

    /// Erases the payloads of the key's versions `from ... through` (from at least its lowest
    /// stored one), within the budget; returns the first version not reached.
    private mutating func eraseRun(_ key: [UInt8], from first: UInt64, through last: UInt64) throws -> UInt64 {
        let entry = try entry(key)
        let start = max(first, entry.lowestPresent)
        guard start <= last else { return last + 1 }
        let top = min(last, start + UInt64(budget) - 1)
        for item in try collect(key, entry: entry, from: start, through: top) {
            try erase(at: item.position)
        }
        return top + 1
    }

    /// The positions (with versions and ids) of versions `first ... last` of a key, oldest first.
    private func collect(_ key: [UInt8], entry: KeyEntry, from first: UInt64, through last: UInt64) throws -> [(position: UInt64, version: UInt64, id: [UInt8]?)] {
        guard first <= last, last <= entry.latest.version else { return [] }
        let index = KeyIndex(layout: layout)
        return try key.withUnsafeBytes { keyBytes in
            var position = try index.position(of: last, key: keyBytes, latest: entry.latest, in: txn)
            var items: [(position: UInt64, version: UInt64, id: [UInt8]?)] = []
            items.reserveCapacity(Int(last - first + 1))
            var version = last
            while true {
                let view = try index.record(at: position, key: keyBytes, version: version, in: txn)
                items.append((position, version, view.idRange.map { Array(view.bytes[$0]) }))
                if version == first { break }
                position = view.previous
                version -= 1
            }
            return items.reversed()
        }
    }

    /// Deletes one record (its key's lowest stored version), its id and version-index entry.
    private mutating func remove(_ key: [UInt8], _ entry: inout KeyEntry, position: UInt64, version: UInt64, id: [UInt8]?, lossy: Bool) throws {
        try BigEndianKey(position).withBytes { positionBytes in
            try txn.delete(layout.records, positionBytes)
            if let id {
                try id.withUnsafeBytes { idBytes in
                    if let stored = try txn.get(layout.ids, idBytes), BigEndianKey.value(stored) == position {
                        try txn.delete(layout.ids, idBytes)
                    }
                }
            }
        }
        try key.withUnsafeBytes { try KeyIndex(layout: layout).forgetVersion($0, version: version, in: txn) }
        entry.lowestPresent = version + 1
        removedCount += 1
        if lossy { removedThrough = max(removedThrough, position) }
        report.removed += 1
        spend()
    }

    /// One record of the budget; past the step's time, the rest of it too.
    private mutating func spend() {
        budget -= 1
        sinceClock += 1
        if sinceClock >= 32 {
            sinceClock = 0
            if ContinuousClock.now >= deadline { budget = 0 }
        }
    }

    /// Rewrites the record at `position` without its payload and metadata (a marker or an
    /// erased record is left as it is).
    private mutating func erase(at position: UInt64) throws {
        try BigEndianKey(position).withBytes { positionBytes in
            guard let bytes = try txn.get(layout.records, positionBytes) else { return }
            let view = try RecordCodec.checkedView(position: position, bytes: bytes)
            guard !view.isErased, view.deletion == nil else { return }
            let erased = RecordCodec.erasedCopy(of: view, position: position)
            try erased.withUnsafeBytes { try txn.put(layout.records, positionBytes, $0) }
            erasedCount += 1
            report.erased += 1
        }
        spend()
    }

    private mutating func entry(_ key: [UInt8]) throws -> KeyEntry {
        if let known = entries[key] { return known }
        guard let stored = try key.withUnsafeBytes({ try KeyIndex(layout: layout).entry($0, in: txn) }) else {
            throw KirokuError(.corruption, "Key '\(String(decoding: key, as: UTF8.self))' has records but no key index entry; run verify.",
                              key: String(decoding: key, as: UTF8.self))
        }
        entries[key] = stored
        return stored
    }

    private mutating func set(_ key: [UInt8], _ entry: KeyEntry) {
        if entries[key] != entry { dirty.insert(key) }
        entries[key] = entry
    }

    /// Writes back the key entries and counters this step changed.
    mutating func finish() throws {
        let index = KeyIndex(layout: layout)
        for key in dirty.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            try key.withUnsafeBytes { try index.setEntry($0, entries[key]!, in: txn) }
        }
        if report.removed > 0 || report.erased > 0 {
            try layout.raiseFormat(in: txn)
            try layout.setCounter(Self.removedRecordsKey, removedCount, in: txn)
            try layout.setCounter(Self.removedThroughKey, removedThrough, in: txn)
            try layout.setCounter(Self.erasedRecordsKey, erasedCount, in: txn)
        }
        // Erased bytes stay in freed pages until a scrub: it is owed, even across a crash.
        if report.erased > 0 { try layout.setCounter(Self.scrubPendingKey, 1, in: txn) }
    }

    // MARK: Stored policies

    static func policies(layout: StoreLayout, in txn: Transaction) throws -> [RetentionPolicy] {
        try retentionKey.withUTF8Bytes { key in
            guard let bytes = try txn.get(layout.meta, key) else { return [] }
            do {
                return try JSONDecoder().decode([RetentionPolicy].self, from: Data(bytes))
            } catch {
                throw KirokuError(.corruption, "The store's retention policies cannot be read (\(error)); set them again (kiroku retention set).")
            }
        }
    }

    static func setPolicies(_ policies: [RetentionPolicy], layout: StoreLayout, in txn: Transaction) throws {
        let encoded = try JSONEncoder().encode(policies)
        try retentionKey.withUTF8Bytes { key in
            if policies.isEmpty { try txn.delete(layout.meta, key) } else { try encoded.withUnsafeBytes { try txn.put(layout.meta, key, $0) } }
        }
        try retentionStateKey.withUTF8Bytes { key in try txn.delete(layout.meta, key) }
    }

    private static func states(layout: StoreLayout, in txn: Transaction) throws -> [PolicyState] {
        try retentionStateKey.withUTF8Bytes { key in
            guard let bytes = try txn.get(layout.meta, key) else { return [] }
            return (try? JSONDecoder().decode([PolicyState].self, from: Data(bytes))) ?? []
        }
    }
}
