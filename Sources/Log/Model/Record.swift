import Foundation

/// An event as stored in the log.
public struct Record: Sendable, Hashable {
    /// Global position: from 1, gapless, strictly increasing in commit order.
    public let position: UInt64
    /// The partition key the event was appended to.
    public let key: String
    /// The event's version within its key: from 1, gapless per key.
    public let version: UInt64
    /// When the write transaction that stored the event was prepared (microsecond precision).
    public let timestamp: Date
    /// The event type.
    public let type: String
    /// The event's bytes.
    public let payload: Data
    /// The event's metadata bytes, when it had some.
    public let metadata: Data?
    /// The idempotency id, when the event had one.
    public let id: String?

    /// Makes a record; the store makes them when reading, tests and tools may too.
    public init(position: UInt64, key: String, version: UInt64, timestamp: Date, type: String,
                payload: Data, metadata: Data? = nil, id: String? = nil) {
        self.position = position
        self.key = key
        self.version = version
        self.timestamp = timestamp
        self.type = type
        self.payload = payload
        self.metadata = metadata
        self.id = id
    }
}
