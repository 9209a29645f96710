import KirokuFeed
import Foundation
import KirokuTestSupport
import PropertyBased
import Testing
@testable import KirokuLog

/// A model-based property test of the log: random programs of appends (atomic, one by one,
/// concurrent) and reopens, over keys, ids and types that are equal as Swift `String`s but not
/// as bytes, ids repeated with the same and with other content, and every kind of expected
/// version; after every step the store must equal a brute-force model of the rules in LOG.md.
///
/// A failure prints the program (shrunk) and a seed: `@Test(.fixedSeed("…"))` replays it.
@Suite struct LogModelPropertyTests {
    /// One step of a program, as integers the generator shrinks (fewer steps, smaller numbers).
    typealias Program = [[Int]]

    static let program = Gen.int(in: 0...999).array(of: 10).array(of: 1...24)

    @Test func randomProgramsMatchTheModel() async {
        await propertyCheck(count: 120, input: Self.program) { program in
            try await Self.run(program)
        }
    }

    /// Runs a program on a fresh store, checking the store against the model after each step.
    static func run(_ program: Program) async throws {
        let directory = TemporaryDirectory("kiroku-model")
        defer { directory.remove() }
        let path = directory.sub("store")
        var options = EventLog.Options()
        options.durability = .noSync(flushInterval: .seconds(60))
        options.initialMapSize = 1 << 20
        var log = try EventLog(path: path, options: options)
        defer { log.close() }
        let model = LogModel()
        var fresh = 0
        for (index, step) in program.enumerated() {
            var tape = Tape(step)
            let context = "step \(index) of \(program.count)"
            switch tape.next() % 10 {
            case 0...4:
                let request = [model.group(&tape)]
                try await expectSame(model.apply(request), await outcome { try await log.append(request) }, context, request)
            case 5, 6:
                let request = (0..<(2 + tape.next() % 2)).map { _ in model.group(&tape) }
                try await expectSame(model.apply(request), await outcome { try await log.append(request) }, context, request)
            case 7:
                let groups = (0..<(1 + tape.next() % 4)).map { _ in model.group(&tape) }
                let stop = tape.next() % 2 == 0
                let expected = model.applyEach(groups, stopAtFirstError: stop)
                let actual = try await log.appendEach(groups, stopAtFirstError: stop).map(Outcome.init)
                #expect(actual == expected, "\(context): appendEach(stop: \(stop)) \(describe(groups))")
            case 8:
                // Concurrent requests on distinct keys with fresh ids: whatever order the writer
                // commits them in, each one's outcome is the same.
                let keys = LogModel.keys.indices.shuffled(using: &tape).prefix(2 + tape.next() % 3)
                let requests: [[AppendGroup]] = keys.map { keyIndex in
                    var group = model.group(&tape, key: LogModel.keys[keyIndex])
                    group.events = group.events.map { event in
                        fresh += 1
                        return EventData(type: event.type, payload: event.payload, metadata: event.metadata, id: event.id.map { "\($0)-\(fresh)" },
                                         schemaVersion: event.schemaVersion)
                    }
                    return [group]
                }
                let log = log
                let outcomes = await withTaskGroup(of: (Int, Outcome).self) { group in
                    for (i, request) in requests.enumerated() {
                        group.addTask { (i, await outcome { try await log.append(request) }) }
                    }
                    var all: [(Int, Outcome)] = []
                    for await result in group { all.append(result) }
                    return all
                }
                // Apply to the model in commit order (the order of the positions given).
                let order = outcomes.sorted { ($0.1.firstPosition ?? .max, $0.0) < ($1.1.firstPosition ?? .max, $1.0) }
                for (i, actual) in order {
                    #expect(model.apply(requests[i]) == actual, "\(context): concurrent \(describe(requests[i]))")
                }
            default:
                log.close()
                log = try EventLog(path: path, options: options)
            }
            try check(log, against: model, context)
        }
    }

    static func expectSame(_ expected: Outcome, _ actual: Outcome, _ context: String, _ request: [AppendGroup]) async throws {
        #expect(actual == expected, "\(context): append \(describe(request))")
    }

    /// The store equals the model: every record byte for byte, every key's history, key
    /// listing in byte order, selections by bytes, and `verify` clean.
    static func check(_ log: EventLog, against model: LogModel, _ context: String) throws {
        #expect(try log.headPosition() == UInt64(model.records.count), "\(context): head")
        let all = try log.readAll(from: 1, limit: 10_000)
        #expect(all.count == model.records.count, "\(context): readAll count")
        for (record, expected) in zip(all, model.records) {
            #expect(ModelRecord(record) == expected, "\(context): record at \(record.position)")
        }
        for key in LogModel.keys {
            let history = model.records.filter { $0.key == Array(key.utf8) }
            let read = try log.read(key: key)
            #expect(read.map(ModelRecord.init) == history, "\(context): read(key: \(bytes(key)))")
            #expect(try log.currentVersion(of: key) == history.last?.version, "\(context): currentVersion(\(bytes(key)))")
            let newest = try log.read(key: key, from: .max, direction: .backward, limit: 2)
            #expect(newest.map(ModelRecord.init) == Array(history.reversed().prefix(2)), "\(context): backward read of \(bytes(key))")
            #expect(all.filter(Selection.key(key).matches).map(ModelRecord.init) == history, "\(context): Selection.key(\(bytes(key)))")
        }
        let stored = Set(model.records.map(\.key))
        for prefix in ["", "caf", "cafe", "A", "\u{C5}", "k", "a\u{0}"] {
            let wanted = stored.filter { $0.starts(with: Array(prefix.utf8)) }.sorted { $0.lexicographicallyPrecedes($1) }
            var listed: [[UInt8]] = []
            var after: String?
            while true {
                let page = try log.keys(prefix: prefix, after: after, limit: 2)
                listed += page.map { Array($0.utf8) }
                guard page.count == 2 else { break }
                after = page.last
            }
            #expect(listed == wanted, "\(context): keys(prefix: \(bytes(prefix))) paged by 2")
            let selected = all.filter(Selection.prefix(prefix).matches).map(\.position)
            #expect(selected == model.records.filter { $0.key.starts(with: Array(prefix.utf8)) }.map(\.position), "\(context): Selection.prefix(\(bytes(prefix)))")
        }
        let pair = [LogModel.keys[0], LogModel.keys[4]]
        #expect(all.filter(Selection.keys(pair).matches).map(\.position)
                == model.records.filter { $0.key == Array(pair[0].utf8) || $0.key == Array(pair[1].utf8) }.map(\.position), "\(context): Selection.keys")
        let type = LogModel.types[1]
        #expect(all.filter(Selection.all.types([type]).matches).map(\.position)
                == model.records.filter { $0.type == Array(type.utf8) }.map(\.position), "\(context): Selection.types")
        let report = try log.verify()
        #expect(report.isClean, "\(context): verify found \(report.problems)")
    }
}

/// What an append came to, in a form the model predicts: each group's places, or the code.
enum Outcome: Equatable, Sendable {
    case appended([[StoredEvent]])
    case failed(KirokuError.Code)

    init(_ result: Result<AppendResult, KirokuError>) {
        switch result {
        case .success(let appended): self = .appended([appended.events])
        case .failure(let error): self = .failed(error.code)
        }
    }

    var firstPosition: UInt64? {
        guard case .appended(let groups) = self else { return nil }
        return groups.flatMap { $0 }.filter { !$0.isRepeat }.map(\.position).min()
    }
}

func outcome(_ body: () async throws -> [AppendResult]) async -> Outcome {
    do {
        return .appended(try await body().map(\.events))
    } catch let error as KirokuError {
        return .failed(error.code)
    } catch {
        return .failed(KirokuError.Code("unexpected: \(error)"))
    }
}

/// A record as bytes.
struct ModelRecord: Equatable {
    var position: UInt64
    var key: [UInt8]
    var version: UInt64
    var type: [UInt8]
    var id: [UInt8]?
    var payload: [UInt8]
    var metadata: [UInt8]?
    /// The schema version stored: an event's own, or 1 (the log has no upcasters).
    var schema: Int

    init(position: UInt64, key: String, version: UInt64, event: EventData) {
        self.position = position
        self.key = Array(key.utf8)
        self.version = version
        type = Array(event.type.utf8)
        id = event.id.map { Array($0.utf8) }
        payload = Array(event.payload)
        metadata = event.metadata.map(Array.init)
        schema = event.schemaVersion ?? 1
    }

    init(_ record: Record) {
        self.init(position: record.position, key: record.key, version: record.version,
                  event: EventData(type: record.type, payload: record.payload, metadata: record.metadata, id: record.id,
                                   schemaVersion: record.schemaVersion))
    }

    /// Whether this stored record holds exactly `event` appended to `key`.
    func holds(_ key: String, _ event: EventData) -> Bool {
        let other = ModelRecord(position: position, key: key, version: version, event: event)
        return other == self
    }
}

/// The log's rules, brute force over a list of records.
final class LogModel {
    /// Keys equal as `String`s but not as bytes, prefixes of each other, a NUL inside, the
    /// longest allowed, flags.
    static let keys = [
        "caf\u{E9}", "cafe\u{301}", "cafe", "\u{C5}", "\u{212B}", "A\u{30A}", "k",
        String(repeating: "鍵", count: 85), "a\u{0}b", "🇯🇵",
    ]
    static let types = ["Created", "\u{DC}ber", "U\u{308}ber"]
    static let ids: [String?] = ["a", "b", "\u{E9}", "e\u{301}", nil, nil]
    static let payloads: [Data] = [Data("{}".utf8), Data(#"{"n":1}"#.utf8), Data(), Data([0xFF, 0x00])]
    static let metadata: [Data?] = [nil, nil, Data("m".utf8), Data()]
    /// `nil` and 1 store alike; a retry that differs only in its schema version is no repeat.
    static let schemas: [Int?] = [nil, nil, nil, 1, 2, 65_535]

    var records: [ModelRecord] = []

    func version(of key: [UInt8]) -> UInt64 { records.last { $0.key == key }?.version ?? 0 }

    /// A random group on a random key (or `key`), with an expectation that may hold or not.
    func group(_ tape: inout Tape, key given: String? = nil) -> AppendGroup {
        let key = given ?? Self.keys[tape.next() % Self.keys.count]
        let events = (0..<(1 + tape.next() % 3)).map { _ in
            EventData(type: Self.types[tape.next() % Self.types.count], payload: Self.payloads[tape.next() % Self.payloads.count],
                      metadata: Self.metadata[tape.next() % Self.metadata.count], id: Self.ids[tape.next() % Self.ids.count],
                      schemaVersion: Self.schemas[tape.next() % Self.schemas.count])
        }
        let current = version(of: Array(key.utf8))
        let expected: ExpectedVersion = switch tape.next() % 6 {
        case 0: .noStream
        case 1: .streamExists
        case 2, 3: .exact(current)
        case 4: .exact(current + 1)
        default: .any
        }
        return AppendGroup(key: key, events: events, expected: expected)
    }

    func applyEach(_ groups: [AppendGroup], stopAtFirstError: Bool) -> [Outcome] {
        var outcomes: [Outcome] = []
        for group in groups {
            let result = apply([group])
            outcomes.append(result)
            if stopAtFirstError, case .failed = result { break }
        }
        return outcomes
    }

    /// One atomic request, as LOG.md describes it; the model changes only when it succeeds.
    func apply(_ groups: [AppendGroup]) -> Outcome {
        let events = groups.flatMap { group in group.events.map { (group.key, $0) } }
        // The whole request repeats an earlier append: its events at consecutive positions.
        if let anchor = events.firstIndex(where: { $0.1.id != nil }),
           let stored = records.first(where: { $0.id == events[anchor].1.id.map { Array($0.utf8) } }),
           stored.position > UInt64(anchor) {
            let start = Int(stored.position) - anchor - 1
            if start + events.count <= records.count,
               events.indices.allSatisfy({ records[start + $0].holds(events[$0].0, events[$0].1) }) {
                var offset = start
                return .appended(groups.map { group in group.events.map { _ in
                    defer { offset += 1 }
                    return StoredEvent(position: records[offset].position, version: records[offset].version, isRepeat: true)
                } })
            }
        }
        // Each event: new, a repeat of a stored one, or a repeat of one earlier in the request.
        enum Plan { case new, stored(ModelRecord), sameAs(Int) }
        var plans: [Plan] = []
        for (i, (key, event)) in events.enumerated() {
            guard let id = event.id.map({ Array($0.utf8) }) else { plans.append(.new); continue }
            if let earlier = events.indices.first(where: { $0 < i && events[$0].1.id.map { Array($0.utf8) } == id }) {
                let (earlierKey, earlierEvent) = events[earlier]
                guard ModelRecord(position: 0, key: earlierKey, version: 0, event: earlierEvent)
                        == ModelRecord(position: 0, key: key, version: 0, event: event) else { return .failed(.idReused) }
                plans.append(.sameAs(earlier))
            } else if let stored = records.first(where: { $0.id == id }) {
                guard stored.holds(key, event) else { return .failed(.idReused) }
                plans.append(.stored(stored))
            } else {
                plans.append(.new)
            }
        }
        // Expectations, for groups that write something.
        var versions: [[UInt8]: UInt64] = [:]
        var offset = 0
        for group in groups {
            let key = Array(group.key.utf8)
            let current = versions[key] ?? version(of: key)
            let newCount = plans[offset..<(offset + group.events.count)].filter { if case .new = $0 { true } else { false } }.count
            if newCount > 0, !group.expected.isSatisfied(byCurrentVersion: current) { return .failed(.versionConflict) }
            versions[key] = current + UInt64(newCount)
            offset += group.events.count
        }
        // Write.
        var places: [StoredEvent] = []
        for (i, (key, event)) in events.enumerated() {
            switch plans[i] {
            case .new:
                let record = ModelRecord(position: UInt64(records.count + 1), key: key, version: version(of: Array(key.utf8)) + 1, event: event)
                records.append(record)
                places.append(StoredEvent(position: record.position, version: record.version, isRepeat: false))
            case .stored(let record):
                places.append(StoredEvent(position: record.position, version: record.version, isRepeat: true))
            case .sameAs(let earlier):
                places.append(StoredEvent(position: places[earlier].position, version: places[earlier].version, isRepeat: true))
            }
        }
        var next = places.makeIterator()
        return .appended(groups.map { group in group.events.map { _ in next.next()! } })
    }
}

/// Reads a step's integers in turn (around again when they run out).
struct Tape: RandomNumberGenerator {
    let values: [Int]
    var index = 0

    init(_ values: [Int]) { self.values = values.isEmpty ? [0] : values }

    mutating func next() -> Int {
        defer { index += 1 }
        return values[index % values.count] &+ index / values.count
    }

    mutating func next() -> UInt64 { UInt64(truncatingIfNeeded: next() as Int) &* 0x9E37_79B9_7F4A_7C15 }
}

/// A string's bytes in hex, for messages (two keys that print alike differ here).
func bytes(_ string: String) -> String {
    string.utf8.map { String(format: "%02x", $0) }.joined(separator: " ")
}

func describe(_ groups: [AppendGroup]) -> String {
    groups.map { group in
        "[\(bytes(group.key)) expected \(group.expected): " + group.events.map { event in
            "\(bytes(event.type)) id \(event.id.map(bytes) ?? "-") payload \(event.payload.count)B meta \(event.metadata.map { "\($0.count)B" } ?? "-")"
        }.joined(separator: "; ") + "]"
    }.joined(separator: " ")
}
