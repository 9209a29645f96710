/// What ``EventLog/verify(chunkSize:)`` found.
public struct VerifyReport: Sendable, Hashable {
    /// One inconsistency, with where it is.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// What kind of inconsistency.
        public enum Kind: String, Sendable, Hashable {
            /// Positions are missing between two stored records.
            case gap
            /// A record's bytes fail their checksum or cannot be parsed.
            case badRecord = "bad-record"
            /// A record and the key index or version index disagree (missing, extra or wrong entry).
            case indexMismatch = "index-mismatch"
            /// A key's versions do not run 1, 2, 3, … without gaps: a record's link to its key's
            /// previous version is broken.
            case versionGap = "version-gap"
            /// An idempotency id and its record disagree.
            case idMismatch = "id-mismatch"
        }

        /// What kind of inconsistency.
        public let kind: Kind
        /// The global position concerned, when there is one.
        public let position: UInt64?
        /// The key concerned, when there is one.
        public let key: String?
        /// A sentence that says what is wrong.
        public let message: String

        public var description: String {
            var location: [String] = []
            if let position { location.append("position \(position)") }
            if let key { location.append("key '\(key)'") }
            return "\(kind.rawValue)\(location.isEmpty ? "" : " at " + location.joined(separator: ", ")): \(message)"
        }
    }

    /// Records read from the `records` database.
    public var recordsChecked = 0
    /// Entries read from the key index and the version index.
    public var keysChecked = 0
    /// Entries read from the idempotency-id index.
    public var idsChecked = 0
    /// The highest position seen.
    public var headPosition: UInt64 = 0
    /// Every inconsistency found, in the order found.
    public var problems: [Problem] = []

    /// Whether nothing was wrong.
    public var isClean: Bool { problems.isEmpty }
}
