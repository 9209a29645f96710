import Foundation
import KirokuLog

/// An event of a write model: `Codable` (its JSON is the record's payload) with the event type
/// the record carries.
///
/// ```swift
/// enum CartEvent: DomainEvent {
///     case added(item: String, quantity: Int)
///     case removed(item: String)
///     var eventType: String { switch self { case .added: "ItemAdded"; case .removed: "ItemRemoved" } }
/// }
/// ```
public protocol DomainEvent: Codable, Sendable {
    /// The record's event type, for example `"ItemAdded"`.
    var eventType: String { get }
}

/// When ``EventLog/decide(key:initial:snapshots:commandId:maxAttempts:evolve:decide:)`` keeps a
/// snapshot of a key's state.
public struct SnapshotPolicy: Sendable, Hashable {
    /// A snapshot each time the key's version crosses a multiple of this (0: never).
    public var every: UInt64
    /// The state's schema version: a snapshot of another schema is ignored (and replaced), so
    /// changing `evolve` or the state's shape only needs a new number.
    public var schema: Int

    /// No snapshots: every decision folds the key's whole history.
    public static let never = SnapshotPolicy(every: 0, schema: 0)

    /// A snapshot every `events` events, of state schema `schema`.
    public static func every(_ events: UInt64, schema: Int = 1) -> SnapshotPolicy {
        SnapshotPolicy(every: events, schema: schema)
    }
}

/// What a decision came to.
public struct Decision<State: Sendable, Event: Sendable>: Sendable {
    /// The key's state after the decision's events.
    public var state: State
    /// The key's version after them (its current version when there were none).
    public var version: UInt64
    /// The events decided and appended (empty when the decision was to do nothing, and for
    /// a repeated command).
    public var events: [Event]
    /// Where they were stored.
    public var positions: ClosedRange<UInt64>?
    /// How many times the state was loaded and `decide` ran (1 without a conflict).
    public var attempts: Int
    /// Whether the command was decided before (its `commandId` is stored): nothing was appended.
    public var isRepeat: Bool
    /// Whether the state was loaded from a snapshot.
    public var fromSnapshot: Bool
}
