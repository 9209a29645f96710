/// What an append expects a key's current version to be: optimistic concurrency.
///
/// The check runs in the write transaction that commits the append, so two appenders that both
/// expect `.exact(3)` cannot both win: one commits version 4, the other gets
/// ``KirokuError/Code/versionConflict`` naming the actual version.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// No check: append whatever the current version is.
    case any
    /// The key must have no events yet.
    case noStream
    /// The key must have at least one event.
    case streamExists
    /// The key's current version must be exactly this (its last event's version).
    case exact(UInt64)

    /// Whether a key whose current version is `current` (0: no events) satisfies this expectation.
    public func isSatisfied(byCurrentVersion current: UInt64) -> Bool {
        switch self {
        case .any: true
        case .noStream: current == 0
        case .streamExists: current > 0
        case .exact(let version): current == version
        }
    }

    public var description: String {
        switch self {
        case .any: "any"
        case .noStream: "no-stream"
        case .streamExists: "exists"
        case .exact(let version): String(version)
        }
    }
}
