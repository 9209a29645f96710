import KirokuLog

/// Which records a feed delivers: by key (all, one, a set, a prefix), optionally by event type.
///
/// Keys and types match by their UTF-8 bytes, as the log stores them (``ExactString``): a key
/// written precomposed (`café`, `63 61 66 c3 a9`) is not the key written decomposed
/// (`63 61 66 65 cc 81`), and a prefix matches bytes, not characters.
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
        case keys(Set<ExactString>)
        /// Every key whose bytes start with a prefix's bytes.
        case prefix(String)

        public static func == (lhs: Keys, rhs: Keys) -> Bool {
            switch (lhs, rhs) {
            case (.all, .all): true
            case (.key(let a), .key(let b)), (.prefix(let a), .prefix(let b)): a.utf8Equals(b)
            case (.keys(let a), .keys(let b)): a == b
            default: false
            }
        }

        public func hash(into hasher: inout Hasher) {
            switch self {
            case .all: hasher.combine(0)
            case .key(let key): hasher.combine(1); hasher.combine(ExactString(key))
            case .keys(let keys): hasher.combine(2); hasher.combine(keys)
            case .prefix(let prefix): hasher.combine(3); hasher.combine(ExactString(prefix))
            }
        }
    }

    /// Which keys.
    public var keys: Keys
    /// Which event types; `nil` for all.
    public var types: Set<ExactString>?

    /// Makes a selection.
    public init(keys: Keys = .all, types: Set<ExactString>? = nil) {
        self.keys = keys
        self.types = types
    }

    /// Every record.
    public static let all = Selection()
    /// The records of one key.
    public static func key(_ key: String) -> Selection { Selection(keys: .key(key)) }
    /// The records of any of these keys (by bytes: pass them as a list, since a `Set<String>`
    /// has already merged canonically equivalent spellings).
    public static func keys(_ keys: some Sequence<String>) -> Selection { Selection(keys: .keys(Set(keys.map { ExactString($0) }))) }
    /// The records of every key whose bytes start with `prefix`'s.
    public static func prefix(_ prefix: String) -> Selection { Selection(keys: .prefix(prefix)) }

    /// This selection, narrowed to these event types.
    public func types(_ types: some Sequence<String>) -> Selection {
        Selection(keys: keys, types: Set(types.map { ExactString($0) }))
    }

    /// Whether `record` is selected. A key's deletion marker (``Record/deletion``) matches
    /// whatever the types say, so a feed of some types still learns that the key is gone.
    public func matches(_ record: Record) -> Bool {
        if let types, record.deletion == nil, !types.contains(ExactString(record.type)) { return false }
        switch keys {
        case .all: return true
        case .key(let key): return record.key.utf8Equals(key)
        case .keys(let keys): return keys.contains(ExactString(record.key))
        case .prefix(let prefix): return record.key.utf8HasPrefix(prefix)
        }
    }
}
