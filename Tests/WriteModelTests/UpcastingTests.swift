import Foundation
import KirokuFeed
@testable import KirokuLog
import KirokuProjections
import KirokuTestSupport
import KirokuWriteModel
import Testing

/// Three generations of one event, as the motivating team's migration had them.
/// v1 "CustomerMoved": `zip` and `address`.
struct MovedV1: Codable, Sendable { var zip: String; var address: String }
/// v2 "CustomerMoved": `zip` renamed `postalCode`.
struct MovedV2: Codable, Sendable { var postalCode: String; var address: String }
/// v3, renamed "AddressChanged": the address split into prefecture and the rest.
struct AddressChanged: DomainEvent, Equatable {
    var postalCode: String
    var prefecture: String
    var rest: String
    var eventType: String { "AddressChanged" }
}

/// A prefecture is its address's first three characters, or four when the fourth is 県
/// (神奈川県, 和歌山県, 鹿児島県).
func split(_ address: String) -> (prefecture: String, rest: String) {
    let characters = Array(address)
    let count = characters.count >= 4 && characters[3] == "県" ? 4 : min(3, characters.count)
    return (String(characters[..<count]), String(characters[count...]))
}

struct Customer: Codable, Sendable, Equatable {
    var moves: [AddressChanged] = []
    static func evolve(_ state: inout Customer, _ event: AddressChanged) { state.moves.append(event) }
}

/// The latest address per customer, in its current form: the projection a rebuild must get right.
struct Addresses: Projection {
    let name = "addresses"
    let version: Int
    let selection = Selection(types: ["AddressChanged"])
    let tables = ["addresses"]

    func apply(_ records: [Record], to state: ProjectionState) throws {
        for record in records where record.deletion == nil && !record.isErased {
            try state.put(try record.decode(AddressChanged.self), record.key, in: "addresses")
        }
    }
}

enum Generations {
    static func upcasters(through version: Int) throws -> Upcasters {
        var upcasters = Upcasters()
        if version >= 2 {
            try upcasters.register("CustomerMoved", from: 1, decoding: MovedV1.self) { MovedV2(postalCode: $0.zip, address: $0.address) }
        }
        if version >= 3 {
            try upcasters.register("CustomerMoved", from: 2, renamingTo: "AddressChanged", decoding: MovedV2.self) { old in
                let (prefecture, rest) = split(old.address)
                return AddressChanged(postalCode: old.postalCode, prefecture: prefecture, rest: rest)
            }
        }
        return upcasters
    }

    static func open(_ path: String, through version: Int) throws -> EventLog {
        var options = EventLog.Options()
        options.upcasters = try upcasters(through: version)
        return try EventLog(path: path, options: options)
    }

    static let expected: [String: [AddressChanged]] = [
        "customer-1": [AddressChanged(postalCode: "100-0001", prefecture: "東京都", rest: "千代田区千代田1-1"),
                       AddressChanged(postalCode: "231-0023", prefecture: "神奈川県", rest: "横浜市中区山下町1"),
                       AddressChanged(postalCode: "600-8216", prefecture: "京都府", rest: "京都市下京区1")],
        "customer-2": [AddressChanged(postalCode: "060-0001", prefecture: "北海道", rest: "札幌市中央区1")],
    ]

    /// Writes customer-1's moves in three generations (each by a build that knew only its own),
    /// customer-2's in the first.
    static func write(_ path: String) async throws {
        let first = try open(path, through: 1)
        try await first.append(to: "customer-1", .json(MovedV1(zip: "100-0001", address: "東京都千代田区千代田1-1"), type: "CustomerMoved"))
        try await first.append(to: "customer-2", .json(MovedV1(zip: "060-0001", address: "北海道札幌市中央区1"), type: "CustomerMoved"))
        first.close()
        let second = try open(path, through: 2)
        try await second.append(to: "customer-1", .json(MovedV2(postalCode: "231-0023", address: "神奈川県横浜市中区山下町1"), type: "CustomerMoved"))
        second.close()
        let third = try open(path, through: 3)
        try await third.append(to: "customer-1", .json(AddressChanged(postalCode: "600-8216", prefecture: "京都府", rest: "京都市下京区1"), type: "AddressChanged"))
        third.close()
    }
}

@Suite(.timeLimit(.minutes(3))) struct UpcastingTests {
    @Test func threeGenerationsReadInTheirCurrentFormEverywhere() async throws {
        let directory = TemporaryDirectory("kiroku-upcast")
        defer { directory.remove() }
        let path = directory.sub("store")
        try await Generations.write(path)
        let log = try Generations.open(path, through: 3)
        defer { log.close() }

        // Stored as written: each record carries the version its writer stamped.
        let stored = try log.readAllStored()
        #expect(stored.map(\.type) == ["CustomerMoved", "CustomerMoved", "CustomerMoved", "AddressChanged"])
        #expect(stored.map(\.schemaVersion) == [1, 1, 2, 3])
        #expect(try log.storedRecord(at: 1)?.payload == stored[0].payload)

        // Reads: by key (both directions), by position, the whole log (both directions).
        let current = try log.readAll()
        #expect(current.map(\.type) == Array(repeating: "AddressChanged", count: 4))
        #expect(current.map(\.schemaVersion) == [3, 3, 3, 3])
        #expect(try log.read(key: "customer-1").map { try $0.decode(AddressChanged.self) } == Generations.expected["customer-1"])
        #expect(try log.read(key: "customer-1", from: .max, direction: .backward).map { try $0.decode(AddressChanged.self) }
            == Generations.expected["customer-1"]!.reversed())
        #expect(try log.record(at: 2)?.decode(AddressChanged.self) == Generations.expected["customer-2"]![0])
        #expect(try log.readAll(before: .max).map(\.position) == [4, 3, 2, 1])
        #expect(try log.readAll(before: .max).allSatisfy { $0.type == "AddressChanged" && $0.schemaVersion == 3 })

        // A feed selecting the current type gets every generation, upcast.
        var feedRecords: [Record] = []
        for try await record in EventFeed(log: log, selection: Selection(types: ["AddressChanged"])) {
            feedRecords.append(record)
            if record.position == 4 { break }
        }
        #expect(try feedRecords.map { try $0.decode(AddressChanged.self) }.count == 4)
        #expect(feedRecords.map(\.position) == [1, 2, 3, 4])

        // A decision folds the upcast history.
        let decision = try await log.decide(key: "customer-1", initial: Customer(), evolve: Customer.evolve) { customer in
            [AddressChanged(postalCode: "900-0001", prefecture: "沖縄県", rest: "那覇市1")]
        }
        #expect(Array(decision.state.moves.prefix(3)) == Generations.expected["customer-1"])
        // New events are stamped with the current version.
        #expect(try log.storedRecord(at: 5)?.schemaVersion == 3)
    }

    /// A projection built before the upcasters saw the old types and missed them; its next
    /// version, rebuilt beside it by a process that has them, holds every customer's address.
    @Test func aRebuiltProjectionSeesEveryGenerationUpcast() async throws {
        let directory = TemporaryDirectory("kiroku-upcast")
        defer { directory.remove() }
        let path = directory.sub("store")
        try await Generations.write(path)
        do {
            let old = try Generations.open(path, through: 1)
            defer { old.close() }
            let runner = ProjectionRunner(log: old, projections: [Addresses(version: 1)], batchSize: 2)
            let running = Task { try await runner.run() }
            try await runner.waitUntil("addresses", hasApplied: 4, timeout: .seconds(60))
            #expect(try runner.reader("addresses").get(AddressChanged.self, "customer-2", in: "addresses") == nil)
            running.cancel()
            try await running.value
        }
        let log = try Generations.open(path, through: 3)
        defer { log.close() }
        let runner = ProjectionRunner(log: log, projections: [Addresses(version: 1), Addresses(version: 2)], batchSize: 2)
        let running = Task { try await runner.run() }
        // Version 2 builds beside version 1 and becomes the active one once caught up.
        #expect(await eventually(timeout: .seconds(60)) { (try? runner.reader("addresses").version) == 2 })
        let reader = try runner.reader("addresses")
        #expect(try reader.get(AddressChanged.self, "customer-1", in: "addresses") == Generations.expected["customer-1"]!.last)
        #expect(try reader.get(AddressChanged.self, "customer-2", in: "addresses") == Generations.expected["customer-2"]![0])
        running.cancel()
        try await running.value
    }

    @Test func theStoreIsFormatThreeOnceARecordCarriesASchemaVersion() async throws {
        try await withLog(label: "kiroku-upcast") { log, _ async throws in
            func format() throws -> UInt32? {
                try log.environment.read { txn in
                    try StoreLayout.formatKey.withUTF8Bytes { key in
                        try txn.get(log.layout.meta, key).map { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
                    }
                }
            }
            try await log.append(to: "k", EventData(type: "T", schemaVersion: 1))
            #expect(try format() == 1)
            try await log.append(to: "k", EventData(type: "T", payload: Data("{}".utf8), schemaVersion: 2))
            #expect(try format() == 3)
            // The schema is part of an idempotent repeat: the same event in another schema is not one.
            try await log.append(to: "k", EventData(type: "T", id: "x", schemaVersion: 2))
            #expect(try await log.append(to: "k", EventData(type: "T", id: "x", schemaVersion: 2)).repeats == 1)
            await expectError(.idReused) { try await log.append(to: "k", EventData(type: "T", id: "x", schemaVersion: 3)) }
            // Erasure keeps the envelope, schema version included; verify stays clean.
            _ = try await log.erase(key: "k")
            #expect(try log.readAllStored().prefix(3).map(\.schemaVersion) == [1, 2, 2])
            #expect(try log.verify().isClean)
        }
    }

    @Test func badSchemaVersionsAndUpcastersAreClearErrors() async throws {
        try await withLog(label: "kiroku-upcast") { log, _ async throws in
            for version in [0, -1, 65_536] {
                let error = await expectError(.invalidSchemaVersion) { _ = try await log.append(to: "k", EventData(type: "T", schemaVersion: version)) }
                #expect(error?.message.contains("1 to 65535") == true)
            }
            #expect(try log.headPosition() == 0)
        }
        var upcasters = Upcasters()
        try upcasters.rename("A", from: 1, to: "B")
        await expectError(.invalidSchemaVersion) { try upcasters.rename("A", from: 1, to: "C") }
        await expectError(.invalidSchemaVersion) { try upcasters.rename("A", from: 0, to: "C") }
        await expectError(.invalidSchemaVersion) { try upcasters.rename("A", from: 65_535, to: "C") }
        #expect(upcasters.currentVersion(of: "B") == 2 && upcasters.currentVersion(of: "A") == 1)
    }

    /// A transform that throws names the record and the step; erased records and deletion
    /// markers follow the renames without running a transform.
    @Test func aFailingUpcasterNamesTheRecordAndErasedRecordsAreNotTransformed() async throws {
        let directory = TemporaryDirectory("kiroku-upcast")
        defer { directory.remove() }
        let path = directory.sub("store")
        do {
            let log = try EventLog(path: path)
            try await log.append(to: "a", .json(MovedV1(zip: "1", address: "東京都1"), type: "CustomerMoved"))
            try await log.append(to: "b", EventData(type: "CustomerMoved", payload: Data("not json".utf8)))
            try await log.append(to: "c", .json(MovedV1(zip: "2", address: "大阪府2"), type: "CustomerMoved"))
            _ = try await log.erase(key: "c")
            log.close()
        }
        let log = try Generations.open(path, through: 3)
        defer { log.close() }
        let error = await expectError(.upcastFailed) { _ = try log.readAll() }
        #expect(error?.position == 2 && error?.key == "b")
        #expect(error?.message.contains("from schema version 1 to 2") == true, "\(String(describing: error))")
        #expect(try log.read(key: "a").first?.type == "AddressChanged")
        let erased = try #require(try log.read(key: "c", from: 1).first ?? log.record(at: 3))
        #expect(erased.isErased && erased.type == "AddressChanged" && erased.schemaVersion == 3 && erased.payload.isEmpty)
    }
}
