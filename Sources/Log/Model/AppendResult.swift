/// What an append to one key committed.
public struct AppendResult: Sendable, Hashable {
    /// The partition key.
    public let key: String
    /// The global positions of the appended events, in order (contiguous).
    public let positions: ClosedRange<UInt64>
    /// The versions the events got within their key, in order (contiguous).
    public let versions: ClosedRange<UInt64>

    /// The key's version after this append: its last event's version.
    public var version: UInt64 { versions.upperBound }
    /// The global position of the last appended event.
    public var position: UInt64 { positions.upperBound }

    /// Makes a result.
    public init(key: String, positions: ClosedRange<UInt64>, versions: ClosedRange<UInt64>) {
        self.key = key
        self.positions = positions
        self.versions = versions
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
