/// What an append to one key committed: where each of its events is stored.
public struct AppendResult: Sendable, Hashable {
    /// The partition key.
    public let key: String
    /// Where each event of the group is stored, in the order the group gave them.
    public let events: [StoredEvent]

    /// The global positions of the group's events, from the lowest to the highest.
    ///
    /// Contiguous when the append wrote every event of the group, and when it repeated one
    /// earlier append exactly (an idempotent retry). When some events were repeats of events
    /// stored by other appends, ``events`` says where each one is.
    public var positions: ClosedRange<UInt64> {
        let positions = events.lazy.map(\.position)
        return positions.min()!...positions.max()!
    }
    /// The versions of the group's events within their key, from the lowest to the highest.
    public var versions: ClosedRange<UInt64> {
        let versions = events.lazy.map(\.version)
        return versions.min()!...versions.max()!
    }
    /// The key's version after this append: the highest version among its events.
    public var version: UInt64 { versions.upperBound }
    /// The highest global position among its events.
    public var position: UInt64 { positions.upperBound }
    /// How many of the group's events were identical repeats, stored once before.
    public var repeats: Int { events.reduce(0) { $0 + ($1.isRepeat ? 1 : 0) } }

    /// Makes a result from the events' places.
    public init(key: String, events: [StoredEvent]) {
        precondition(!events.isEmpty, "an append result has at least one event")
        self.key = key
        self.events = events
    }

    /// Makes the result of an append that wrote every event, at consecutive positions.
    public init(key: String, positions: ClosedRange<UInt64>, versions: ClosedRange<UInt64>) {
        precondition(positions.count == versions.count, "one version per position")
        self.init(key: key, events: zip(positions, versions).map { StoredEvent(position: $0, version: $1, isRepeat: false) })
    }
}

/// Where one event of an append is stored.
public struct StoredEvent: Sendable, Hashable {
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
