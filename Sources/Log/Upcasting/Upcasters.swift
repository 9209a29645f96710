import Foundation

extension KirokuError.Code {
    /// An event's schema version is outside 1…65,535, or an upcaster was registered twice for
    /// one type and version, or for a version out of range.
    public static let invalidSchemaVersion = Self("invalid-schema-version")
    /// An upcaster threw while turning a stored event into its current form.
    public static let upcastFailed = Self("upcast-failed")
}

/// Turns events written in older schemas into their current form when they are read.
///
/// Each record carries the schema version its event was written with (``Record/schemaVersion``,
/// 1 unless the writer said otherwise). An upcaster is one step: events of a type at one version
/// become the next version, perhaps under a new type name. Steps chain, so a record written
/// three generations ago passes through three of them. Registered in ``EventLog/Options/upcasters``,
/// they apply to every read of the log that returns records (``EventLog/readAll(from:limit:)``,
/// ``EventLog/read(key:from:direction:limit:)``, ``EventLog/record(at:)``), and so to feeds,
/// processors, projections, rebuilds and deciders: code that reads events only ever sees
/// the current shape. The stored bytes never change (history stays as it was written);
/// backups, exports, replication and verify see them as stored.
///
/// ```swift
/// var upcasters = Upcasters()
/// // v1 → v2: the field `zip` was renamed `postalCode`.
/// try upcasters.register("CustomerMoved", from: 1, decoding: MovedV1.self) { MovedV2(postalCode: $0.zip, address: $0.address) }
/// // v2 → v3: the address split into prefecture and the rest, and the type was renamed.
/// try upcasters.register("CustomerMoved", from: 2, renamingTo: "AddressChanged", decoding: MovedV2.self) { old in
///     AddressChanged(postalCode: old.postalCode, prefecture: prefecture(of: old.address), rest: rest(of: old.address))
/// }
/// var options = EventLog.Options()
/// options.upcasters = upcasters
/// let log = try EventLog(path: path, options: options)
/// // Appends of "AddressChanged" are stamped version 3; old events read as AddressChanged v3.
/// ```
///
/// New appends whose ``EventData/schemaVersion`` is `nil` are stamped with the type's current
/// version (``currentVersion(of:)``): the highest version any step produces for it, 1 when
/// none does. Erased records and deletion markers have no payload: they follow the chain's
/// type renames and versions without running a transform.
public struct Upcasters: Sendable {
    /// One step: the type and payload at `version + 1`.
    private struct Step: Sendable {
        let type: String
        let transform: (@Sendable (Data) throws -> Data)?
    }

    private struct StepKey: Hashable, Sendable {
        let type: ExactString
        let version: Int
    }

    private var steps: [StepKey: Step] = [:]
    /// The highest version a step produces, per type.
    private var current: [ExactString: Int] = [:]

    /// No upcasters: every record reads as written.
    public init() {}

    /// Whether no step is registered.
    public var isEmpty: Bool { steps.isEmpty }

    /// The highest schema version the steps produce for events of `type`; 1 when none does.
    /// Appends without an explicit schema version are stamped with it.
    public func currentVersion(of type: String) -> Int {
        current[ExactString(type)] ?? 1
    }

    /// Registers how the payload of `type` events at schema `version` becomes version
    /// `version + 1`, of `newType` when the type was renamed.
    ///
    /// - Throws: ``KirokuError/Code/invalidSchemaVersion`` when a step for that type and version
    ///   exists already, or `version` is not in 1…65,534.
    public mutating func register(_ type: String, from version: Int, renamingTo newType: String? = nil,
                                  _ transform: @escaping @Sendable (Data) throws -> Data) throws {
        try add(type, from: version, to: newType ?? type, transform)
    }

    /// Registers a typed step: the payload decodes from JSON as `Old`, `transform` makes the
    /// new form, which is encoded as JSON (keys sorted).
    ///
    /// - Throws: as ``register(_:from:renamingTo:_:)``.
    public mutating func register<Old: Decodable & Sendable, New: Encodable & Sendable>(
        _ type: String, from version: Int, renamingTo newType: String? = nil, decoding _: Old.Type,
        _ transform: @escaping @Sendable (Old) throws -> New
    ) throws {
        try add(type, from: version, to: newType ?? type) { payload in
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return try encoder.encode(try transform(try JSONDecoder().decode(Old.self, from: payload)))
        }
    }

    /// Registers a rename: `type` events at `version` read as `newType` at `version + 1`, their
    /// payload unchanged.
    ///
    /// - Throws: as ``register(_:from:renamingTo:_:)``.
    public mutating func rename(_ type: String, from version: Int, to newType: String) throws {
        try add(type, from: version, to: newType, nil)
    }

    private mutating func add(_ type: String, from version: Int, to newType: String,
                              _ transform: (@Sendable (Data) throws -> Data)?) throws {
        guard (1..<Int(UInt16.max)).contains(version) else {
            throw KirokuError(.invalidSchemaVersion, "An upcaster for '\(type)' starts at schema version \(version); versions are 1 to \(UInt16.max), and a step goes from one to the next.")
        }
        guard !type.isEmpty, !newType.isEmpty else {
            throw KirokuError(.invalidSchemaVersion, "An upcaster needs event types that are not empty.")
        }
        let key = StepKey(type: ExactString(type), version: version)
        guard steps[key] == nil else {
            throw KirokuError(.invalidSchemaVersion, "Two upcasters turn '\(type)' version \(version) into version \(version + 1); keep one step per type and version.")
        }
        steps[key] = Step(type: newType, transform: transform)
        current[ExactString(newType)] = max(current[ExactString(newType)] ?? 1, version + 1)
    }

    /// `record` in its current form: every step from its type and version applied in turn.
    ///
    /// - Throws: ``KirokuError/Code/upcastFailed`` naming the record and step when a transform throws.
    public func upcast(_ record: Record) throws -> Record {
        guard !steps.isEmpty, var step = steps[StepKey(type: ExactString(record.type), version: record.schemaVersion)] else {
            return record
        }
        var type = record.type
        var version = record.schemaVersion
        var payload = record.payload
        let runs = !record.isErased && record.deletion == nil
        while true {
            if runs, let transform = step.transform {
                do {
                    payload = try transform(payload)
                } catch {
                    throw KirokuError(.upcastFailed, "Upcasting the '\(type)' event at position \(record.position) (key '\(record.key)') from schema version \(version) to \(version + 1) failed: \(error). Fix that upcaster (the stored event is unchanged), or register one that handles this payload.", key: record.key, position: record.position)
                }
            }
            type = step.type
            version += 1
            guard let next = steps[StepKey(type: ExactString(type), version: version)] else { break }
            step = next
        }
        return Record(position: record.position, key: record.key, version: record.version, timestamp: record.timestamp,
                      type: type, payload: payload, metadata: record.metadata, id: record.id,
                      isErased: record.isErased, deletion: record.deletion, schemaVersion: version)
    }

    /// `records` in their current form.
    public func upcast(_ records: [Record]) throws -> [Record] {
        guard !steps.isEmpty else { return records }
        return try records.map(upcast)
    }

    /// `event` with its schema version stamped: as given, or the type's current version.
    func stamped(_ event: EventData) -> EventData {
        guard event.schemaVersion == nil, let version = current[ExactString(event.type)] else { return event }
        var event = event
        event.schemaVersion = version
        return event
    }
}
