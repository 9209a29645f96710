import Foundation

/// An event to append: its type, its payload bytes, and optionally metadata and an id.
///
/// The store never looks inside `payload` or `metadata`: they are bytes, in any encoding. For
/// JSON, ``EventData/json(_:type:id:metadata:encoder:)`` encodes a `Codable` value.
public struct EventData: Sendable, Hashable {
    /// The event type, for example `"OrderPlaced"`. Not empty; at most ``EventLog/maxTypeBytes`` UTF-8 bytes.
    public var type: String
    /// The event's bytes; at most ``EventLog/Options/maxPayloadBytes``.
    public var payload: Data
    /// Optional bytes about the event (causation, correlation, user); same limit as the payload.
    public var metadata: Data?
    /// Optional idempotency id: appending an event whose id is stored already is a no-op that
    /// returns the first append's result. At most ``EventLog/maxIdBytes`` UTF-8 bytes.
    public var id: String?
    /// The version of the event type's schema the payload is written in, from 1 to 65,535;
    /// `nil` (the default) stamps the current version the log's ``Upcasters`` know for the type,
    /// which is 1 for a type without upcasters. Reads turn older versions into the current form
    /// (``Upcasters``), so readers only ever see the shape they know.
    public var schemaVersion: Int?
    /// What an exported record was besides an event, so that an import restores it as it was:
    /// an erased record or a deletion marker (both without payload and metadata). Not for
    /// appends: deletions go through ``EventLog/delete(key:mode:)`` and ``EventLog/erase(key:readerWait:)``.
    package var restored: Restored?

    /// An erased record or a deletion marker, as an export wrote it.
    package struct Restored: Sendable, Hashable {
        package var isErased: Bool
        package var deletion: Record.Deletion?
        package init(isErased: Bool, deletion: Record.Deletion?) {
            self.isErased = isErased
            self.deletion = deletion
        }
    }

    /// Makes an event from bytes.
    public init(type: String, payload: Data = Data(), metadata: Data? = nil, id: String? = nil, schemaVersion: Int? = nil) {
        self.type = type
        self.payload = payload
        self.metadata = metadata
        self.id = id
        self.schemaVersion = schemaVersion
    }
}
