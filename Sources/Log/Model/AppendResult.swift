/// What an append to one key committed: where each of its events is stored.
public struct AppendResult: Sendable, Hashable {
    /// The partition key.
    public let key: String
    /// A group the append wrote whole is one run of positions and versions (no list kept:
    /// the common case, on the writer's thread); otherwise each event's place.
    private let written: (positions: ClosedRange<UInt64>, versions: ClosedRange<UInt64>)?
    private let places: [StoredEvent]

    /// Where each event of the group is stored, in the order the group gave them.
    public var events: [StoredEvent] {
        guard let written else { return places }
        return zip(written.positions, written.versions).map { StoredEvent(position: $0, version: $1, isRepeat: false) }
    }

    /// The global positions of the group's events, from the lowest to the highest.
    ///
    /// Contiguous when the append wrote every event of the group, and when it repeated one
    /// earlier append exactly (an idempotent retry). When some events were repeats of events
    /// stored by other appends, ``events`` says where each one is.
    public var positions: ClosedRange<UInt64> {
        if let written { return written.positions }
        let positions = places.lazy.map(\.position)
        return positions.min()!...positions.max()!
    }
    /// The versions of the group's events within their key, from the lowest to the highest.
    public var versions: ClosedRange<UInt64> {
        if let written { return written.versions }
        let versions = places.lazy.map(\.version)
        return versions.min()!...versions.max()!
    }
    /// The key's version after this append: the highest version among its events.
    public var version: UInt64 { versions.upperBound }
    /// The highest global position among its events.
    public var position: UInt64 { positions.upperBound }
    /// How many of the group's events were identical repeats, stored once before.
    public var repeats: Int { written == nil ? places.reduce(0) { $0 + ($1.isRepeat ? 1 : 0) } : 0 }

    /// Makes a result from the events' places.
    public init(key: String, events: [StoredEvent]) {
        precondition(!events.isEmpty, "an append result has at least one event")
        self.key = key
        self.written = nil
        self.places = events
    }

    /// Makes the result of an append that wrote every event, at consecutive positions.
    public init(key: String, positions: ClosedRange<UInt64>, versions: ClosedRange<UInt64>) {
        precondition(positions.count == versions.count, "one version per position")
        self.key = key
        self.written = (positions, versions)
        self.places = []
    }

    /// Equal when the key and every event's place are (however the result holds them).
    public static func == (lhs: AppendResult, rhs: AppendResult) -> Bool {
        lhs.key == rhs.key && lhs.events == rhs.events
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(key)
        hasher.combine(events)
    }
}

/// Where one event of an append is stored.
public struct StoredEvent: Sendable, Hashable, Codable {
    /// Its global position.
    public let position: UInt64
    /// Its version within its key.
    public let version: UInt64
    /// Whether the event was an identical repeat (same id, key, type, payload and metadata) of
    /// an event stored before, so this append wrote nothing for it and `position` is the
    /// original's.
    public let isRepeat: Bool

    /// Makes a place.
    public init(position: UInt64, version: UInt64, isRepeat: Bool) {
        self.position = position
        self.version = version
        self.isRepeat = isRepeat
    }
}

/// One part of an atomic multi-key append: events for one key and what its version must be.
public struct AppendGroup: Sendable, Hashable {
    /// The partition key.
    public var key: String
    /// The events to append to it, in order; at least one.
    public var events: [EventData]
    /// What the key's current version must be when this group is applied.
    public var expected: ExpectedVersion

    /// Makes a group.
    public init(key: String, events: [EventData], expected: ExpectedVersion = .any) {
        self.key = key
        self.events = events
        self.expected = expected
    }
}
