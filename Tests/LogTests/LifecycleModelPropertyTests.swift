import Foundation
import KirokuTestSupport
import PropertyBased
import Testing
@testable import KirokuLog

/// A model-based property test of deletion, erasure, truncation and retention: random programs
/// of appends (with ids, and retries of earlier appends), soft and hard deletes, erasures,
/// truncations, compaction and count policies, record limits, enforcement in small steps, and
/// reopens, over keys equal as Swift `String`s but not as bytes. After every step the store
/// must equal a brute-force model: every stored record byte for byte (erased ones empty), every
/// key's readable history, versions, the counts in `statistics()`, and a clean `verify`.
///
/// A failure prints the program (shrunk) and a seed: `@Test(.fixedSeed("…"))` replays it.
@Suite struct LifecycleModelPropertyTests {
    static let program = Gen.int(in: 0...999).array(of: 6).array(of: 1...20)

    @Test func randomLifecycleProgramsMatchTheModel() async {
        await propertyCheck(count: 50, input: Self.program) { program in
            try await Self.run(program)
        }
    }

    static let keys = ["caf\u{E9}", "cafe\u{301}", "k", "k2"]

    static func run(_ program: [[Int]]) async throws {
        let directory = TemporaryDirectory("kiroku-lifecycle-model")
        defer { directory.remove() }
        let path = directory.sub("store")
        var options = EventLog.Options()
        options.durability = .noSync(flushInterval: .seconds(60))
        options.initialMapSize = 1 << 20
        var log = try EventLog(path: path, options: options)
        defer { log.close() }
        let model = LifecycleModel()
        var appended: [(key: String, events: [EventData])] = []
        var serial = 0
        for (index, step) in program.enumerated() {
            var tape = Tape(step)
            let context = "step \(index) of \(program.count): \(step)"
            let key = keys[tape.next() % keys.count]
            switch tape.next() % 12 {
            case 0...3:
                let events: [EventData]
                if !appended.isEmpty, tape.next() % 4 == 0 {
                    // A retry of an earlier append, exactly.
                    let earlier = appended[tape.next() % appended.count]
                    let actual = await attempt { try await log.append(to: earlier.key, earlier.events) }
                    #expect(actual == model.append(earlier.key, earlier.events), "\(context): retry of \(earlier)")
                    break
                }
                serial += 1
                events = (0..<(1 + tape.next() % 3)).map { i in
                    EventData(type: ["A", "B"][tape.next() % 2], payload: Data("p\(serial)-\(i)".utf8),
                              metadata: tape.next() % 3 == 0 ? Data("m\(serial)".utf8) : nil,
                              id: tape.next() % 2 == 0 ? "id\(serial)-\(i)" : nil)
                }
                appended.append((key, events))
                let actual = await attempt { try await log.append(to: key, events) }
                #expect(actual == model.append(key, events), "\(context): append to \(bytes(key))")
            case 4:
                let marker = try await log.delete(key: key, mode: .soft)
                #expect(marker == model.mark(key, hard: false, erase: false), "\(context): soft delete of \(bytes(key))")
            case 5:
                let marker = try await log.delete(key: key, mode: .hard)
                #expect(marker == model.mark(key, hard: true, erase: false), "\(context): hard delete of \(bytes(key))")
            case 6:
                let report = try await log.erase(key: key)
                #expect(report.marker == model.mark(key, hard: false, erase: true), "\(context): erase of \(bytes(key))")
            case 7:
                let before = UInt64(1 + tape.next() % 6)
                try await log.truncate(key: key, before: before)
                model.truncate(key, before: before)
            case 8:
                let policies: [RetentionPolicy] = switch tape.next() % 4 {
                case 0: [.compact(prefix: "k")]
                case 1: [.maxCountPerKey(2)]
                case 2: [.maxRecords(4 + tape.next() % 6)]
                default: []
                }
                try await log.setRetention(policies)
                model.policies = policies
            case 9:
                log.close()
                log = try EventLog(path: path, options: options)
            default:
                break
            }
            // Enforcement drains what deletions left and applies the policies; small steps
            // make it take several transactions.
            try await log.enforceRetention(stepSize: 1 + tape.next() % 3)
            model.enforce()
            try check(log, model, context)
        }
    }

    static func attempt(_ body: () async throws -> AppendResult) async -> LifecycleModel.Outcome {
        do {
            return .appended(try await body().events)
        } catch let error as KirokuError {
            return .failed(error.code)
        } catch {
            return .failed(KirokuError.Code("unexpected: \(error)"))
        }
    }

    static func check(_ log: EventLog, _ model: LifecycleModel, _ context: String) throws {
        let stored = model.records.filter { !$0.removed }
        let all = try log.readAll(from: 1, limit: 10_000)
        #expect(all.map(LifecycleModel.Stored.init) == stored, "\(context): readAll")
        #expect(try log.headPosition() == UInt64(model.records.count), "\(context): head")
        for key in keys {
            let visible = model.readable(key)
            #expect(try log.read(key: key).map(LifecycleModel.Stored.init) == visible, "\(context): read(key: \(bytes(key)))")
            #expect(try log.read(key: key, from: .max, direction: .backward, limit: 2).map(LifecycleModel.Stored.init)
                    == Array(visible.reversed().prefix(2)), "\(context): backward read of \(bytes(key))")
            #expect(try log.currentVersion(of: key) == model.latestVersion(key), "\(context): currentVersion(\(bytes(key)))")
        }
        let statistics = try log.statistics()
        #expect(statistics.removedRecords == UInt64(model.records.count - stored.count), "\(context): removed count")
        #expect(statistics.removedThrough == model.removedThrough, "\(context): removed through")
        #expect(statistics.firstPosition == (stored.first?.position ?? 0), "\(context): first position")
        let report = try log.verify()
        #expect(report.isClean, "\(context): verify found \(report.problems)")
    }
}

/// The lifecycle rules of LOG.md, brute force over a list of records.
final class LifecycleModel {
    struct Stored: Equatable, CustomStringConvertible {
        var position: UInt64
        var key: [UInt8]
        var version: UInt64
        var type: String
        var payload: [UInt8]
        var metadata: [UInt8]?
        var id: String?
        var erased = false
        var deletion: Record.Deletion?
        var removed = false

        init(position: UInt64, key: [UInt8], version: UInt64, type: String, payload: [UInt8], metadata: [UInt8]?, id: String?,
             erased: Bool = false, deletion: Record.Deletion? = nil) {
            (self.position, self.key, self.version, self.type, self.payload, self.metadata, self.id, self.erased, self.deletion) =
                (position, key, version, type, payload, metadata, id, erased, deletion)
        }

        init(_ record: Record) {
            self.init(position: record.position, key: Array(record.key.utf8), version: record.version, type: record.type,
                      payload: Array(record.payload), metadata: record.metadata.map(Array.init), id: record.id,
                      erased: record.isErased, deletion: record.deletion)
        }

        var description: String { "@\(position) v\(version) \(type)\(erased ? " erased" : "")\(deletion.map { " \($0)" } ?? "")" }
    }

    enum Outcome: Equatable {
        case appended([StoredEvent])
        case failed(KirokuError.Code)
    }

    var records: [Stored] = []
    var firstVisible: [[UInt8]: UInt64] = [:]
    var closed: Set<[UInt8]> = []
    var policies: [RetentionPolicy] = []
    var removedThrough: UInt64 = 0

    func latestVersion(_ key: String) -> UInt64? { records.last { $0.key == Array(key.utf8) }?.version }

    func readable(_ key: String) -> [Stored] {
        let bytes = Array(key.utf8)
        return records.filter { $0.key == bytes && !$0.removed && $0.version >= firstVisible[bytes, default: 1] }
    }

    func append(_ key: String, _ events: [EventData]) -> Outcome {
        let bytes = Array(key.utf8)
        // A whole repeat of one earlier append comes back as it was.
        // The first event with an id locates it (as in the writer: the events before it must
        // be stored just before, the rest just after, all still there and identical).
        if let offset = events.firstIndex(where: { $0.id != nil }),
           let found = records.firstIndex(where: { $0.id == events[offset].id && !$0.removed }),
           found >= offset, found - offset + events.count <= records.count {
            let run = records[(found - offset)..<(found - offset + events.count)]
            if zip(run, events).allSatisfy({ !$0.removed && same($0, bytes, $1) }) {
                return .appended(run.map { StoredEvent(position: $0.position, version: $0.version, isRepeat: true) })
            }
        }
        var plans: [StoredEvent?] = []
        for event in events {
            if let id = event.id, let stored = records.first(where: { $0.id == id && !$0.removed }) {
                guard same(stored, bytes, event) else { return .failed(.idReused) }
                plans.append(StoredEvent(position: stored.position, version: stored.version, isRepeat: true))
            } else {
                plans.append(nil)
            }
        }
        let new = plans.filter { $0 == nil }.count
        if new > 0, closed.contains(bytes) { return .failed(.keyDeleted) }
        var version = latestVersion(key) ?? 0
        var results: [StoredEvent] = []
        for (plan, event) in zip(plans, events) {
            if let plan { results.append(plan); continue }
            version += 1
            let position = UInt64(records.count + 1)
            records.append(Stored(position: position, key: bytes, version: version, type: event.type, payload: Array(event.payload),
                                  metadata: event.metadata.map(Array.init), id: event.id))
            results.append(StoredEvent(position: position, version: version, isRepeat: false))
        }
        return .appended(results)
    }

    private func same(_ stored: Stored, _ key: [UInt8], _ event: EventData) -> Bool {
        guard stored.key == key, stored.type.utf8Equals(event.type), stored.id == event.id else { return false }
        return stored.erased || (stored.payload == Array(event.payload) && stored.metadata == event.metadata.map(Array.init))
    }

    func mark(_ key: String, hard: Bool, erase: Bool) -> StoredEvent? {
        let bytes = Array(key.utf8)
        let latest = latestVersion(key)
        if latest == nil && (!hard || erase) { return nil }
        if closed.contains(bytes) { return nil }
        if !erase, !hard, firstVisible[bytes, default: 1] > 1, readable(key).isEmpty { return nil }
        let version = (latest ?? 0) + 1
        let position = UInt64(records.count + 1)
        records.append(Stored(position: position, key: bytes, version: version, type: erase ? "$erased" : (hard ? "$tombstone" : "$deleted"),
                              payload: [], metadata: nil, id: nil, erased: erase, deletion: hard ? .hard : .soft))
        firstVisible[bytes] = version + 1
        if hard { closed.insert(bytes) }
        for index in records.indices where records[index].key == bytes && records[index].version < version && !records[index].removed {
            if erase {
                if records[index].deletion == nil {
                    records[index].erased = true
                    records[index].payload = []
                    records[index].metadata = nil
                }
            } else {
                records[index].removed = true
            }
        }
        return StoredEvent(position: position, version: version, isRepeat: false)
    }

    func truncate(_ key: String, before version: UInt64) {
        let bytes = Array(key.utf8)
        guard let latest = latestVersion(key) else { return }
        let target = min(version, latest)
        firstVisible[bytes] = max(firstVisible[bytes, default: 1], target)
        for index in records.indices where records[index].key == bytes && records[index].version < target { records[index].removed = true }
    }

    /// Applies the policies (what deletions leave is applied at once above).
    func enforce() {
        let head = UInt64(records.count)
        for policy in policies {
            switch policy.rule {
            case .maxCountPerKey(let count):
                let prefix = Array((policy.prefix ?? "").utf8)
                for key in Set(records.map(\.key)) where key.starts(with: prefix) {
                    let latest = records.last { $0.key == key }!.version
                    for index in records.indices where records[index].key == key && records[index].version + UInt64(count) <= latest {
                        records[index].removed = true
                    }
                }
            case .maxRecords(let count):
                while records.filter({ !$0.removed }).count > count {
                    let index = records.firstIndex { !$0.removed }!
                    if records[index].position == head { break }
                    records[index].removed = true
                    removedThrough = max(removedThrough, records[index].position)
                }
            default:
                break
            }
        }
    }
}
