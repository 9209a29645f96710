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
    /// Whether the record's payload and metadata were erased (``EventLog/erase(key:)``, or a
    /// retention policy on its event type): its envelope (position, key, version, type, id,
    /// timestamp) stays, its payload reads as empty and its metadata as `nil`.
    public let isErased: Bool
    /// When the record marks its key's deletion (``EventLog/delete(key:mode:)``,
    /// ``EventLog/erase(key:)``), whether soft or hard; `nil` for an event. A feed delivers the
    /// marker like any record: a consumer drops what it holds for the key.
    public let deletion: Deletion?
    /// The version of the type's schema the payload is in: as written, or as the log's
    /// ``Upcasters`` turned it into. 1 for events written without one.
    public let schemaVersion: Int

    /// How a key was deleted.
    public enum Deletion: String, Sendable, Hashable, Codable {
        /// The history is hidden and then removed; the key may be written again, its versions go on.
        case soft
        /// A tombstone: the history is hidden and removed, and the key can never be written again.
        case hard
    }

    /// Makes a record; the store makes them when reading, tests and tools may too.
    public init(position: UInt64, key: String, version: UInt64, timestamp: Date, type: String,
                payload: Data, metadata: Data? = nil, id: String? = nil, isErased: Bool = false,
                deletion: Deletion? = nil, schemaVersion: Int = 1) {
        self.position = position
        self.key = key
        self.version = version
        self.timestamp = timestamp
        self.type = type
        self.payload = payload
        self.metadata = metadata
        self.id = id
        self.isErased = isErased
        self.deletion = deletion
        self.schemaVersion = schemaVersion
    }
}
