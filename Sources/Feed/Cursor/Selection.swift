import Log

/// Which records a feed delivers: by key (all, one, a set, a prefix), optionally by event type.
///
/// ```swift
/// let orders = Selection.prefix("order-").types(["OrderPlaced", "OrderShipped"])
/// ```
public struct Selection: Sendable, Hashable {
    /// Which keys.
    public enum Keys: Sendable, Hashable {
        /// Every key.
        case all
        /// One key.
        case key(String)
        /// Any key of a set.
        case keys(Set<String>)
        /// Every key that starts with a prefix.
        case prefix(String)
    }

    /// Which keys.
    public var keys: Keys
    /// Which event types; `nil` for all.
    public var types: Set<String>?

    /// Makes a selection.
    public init(keys: Keys = .all, types: Set<String>? = nil) {
        self.keys = keys
        self.types = types
    }

    /// Every record.
    public static let all = Selection()
    /// The records of one key.
    public static func key(_ key: String) -> Selection { Selection(keys: .key(key)) }
    /// The records of any of these keys.
    public static func keys(_ keys: Set<String>) -> Selection { Selection(keys: .keys(keys)) }
    /// The records of every key that starts with `prefix`.
    public static func prefix(_ prefix: String) -> Selection { Selection(keys: .prefix(prefix)) }

    /// This selection, narrowed to these event types.
    public func types(_ types: Set<String>) -> Selection {
        Selection(keys: keys, types: types)
    }

    /// Whether `record` is selected.
    public func matches(_ record: Record) -> Bool {
        if let types, !types.contains(record.type) { return false }
        switch keys {
        case .all: return true
        case .key(let key): return record.key == key
        case .keys(let keys): return keys.contains(record.key)
        case .prefix(let prefix): return record.key.hasPrefix(prefix)
        }
    }
}
