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

    /// Makes an event from bytes.
    public init(type: String, payload: Data = Data(), metadata: Data? = nil, id: String? = nil) {
        self.type = type
        self.payload = payload
        self.metadata = metadata
        self.id = id
    }
}
