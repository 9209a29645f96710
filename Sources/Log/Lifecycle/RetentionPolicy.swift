import Foundation

/// A rule for what the log keeps, stored in the store (``EventLog/setRetention(_:)``) and
/// enforced in bounded steps by ``EventLog/enforceRetention(stepSize:)``.
///
/// ```swift
/// try await log.setRetention([
///     .maxAge(.seconds(30 * 86_400)),                      // the whole log: 30 days
///     .compact(prefix: "profile-"),                        // the latest record per key
///     .maxCountPerKey(100, prefix: "session-"),
///     .maxAge(.seconds(7 * 86_400), types: ["Heartbeat"]), // erase these after a week
/// ])
/// ```
///
/// What each rule removes (see `docs/LOG.md`, "Retention"):
/// - ``Rule/maxAge(seconds:)``, ``Rule/maxBytes(_:)``, ``Rule/maxRecords(_:)`` remove the
///   oldest records (of the prefix, or of the whole log). A feed that had not read them gets
///   `position-removed`.
/// - ``Rule/maxCountPerKey(_:)`` (``compact(prefix:)`` is a count of 1) removes a key's older
///   versions and keeps its latest: a feed behind them skips the superseded records, as
///   Kafka's compacted topics do.
/// - With ``types``, a `maxAge` policy erases the payloads of those types' old records instead
///   of removing them (a key's history cannot lose a version from its middle).
///
/// The log's last record is never removed, so positions go on from the head.
public struct RetentionPolicy: Sendable, Hashable, Codable {
    /// What the policy limits.
    public enum Rule: Sendable, Hashable, Codable {
        /// Records older than this (by their commit timestamp).
        case maxAge(seconds: Double)
        /// At most this many of each key's latest versions (1: compaction).
        case maxCountPerKey(Int)
        /// The records table at most this many bytes (its pages); the whole log only.
        case maxBytes(Int)
        /// At most this many records; the whole log only.
        case maxRecords(Int)
    }

    /// The rule.
    public var rule: Rule
    /// The keys it applies to, by the bytes of their prefix; `nil` for every key.
    public var prefix: String?
    /// The event types it applies to (a `maxAge` rule only; it then erases payloads); `nil` for all.
    public var types: [String]?

    /// Makes a policy.
    public init(rule: Rule, prefix: String? = nil, types: [String]? = nil) {
        self.rule = rule
        self.prefix = prefix
        self.types = types
    }

    /// Records older than `age`; of keys with `prefix`, or the whole log.
    public static func maxAge(_ age: Duration, prefix: String? = nil) -> RetentionPolicy {
        RetentionPolicy(rule: .maxAge(seconds: age.seconds), prefix: prefix)
    }

    /// The payloads of these types' records older than `age` are erased (envelopes stay).
    public static func maxAge(_ age: Duration, types: [String], prefix: String? = nil) -> RetentionPolicy {
        RetentionPolicy(rule: .maxAge(seconds: age.seconds), prefix: prefix, types: types)
    }

    /// Each key keeps its latest `count` versions.
    public static func maxCountPerKey(_ count: Int, prefix: String? = nil) -> RetentionPolicy {
        RetentionPolicy(rule: .maxCountPerKey(count), prefix: prefix)
    }

    /// Each key keeps only its latest record (Kafka's `cleanup.policy=compact`).
    public static func compact(prefix: String? = nil) -> RetentionPolicy {
        maxCountPerKey(1, prefix: prefix)
    }

    /// The whole log at most `bytes` (the records table's pages), oldest records removed first.
    public static func maxBytes(_ bytes: Int) -> RetentionPolicy { RetentionPolicy(rule: .maxBytes(bytes)) }

    /// The whole log at most `count` records, oldest removed first.
    public static func maxRecords(_ count: Int) -> RetentionPolicy { RetentionPolicy(rule: .maxRecords(count)) }

    /// Whether the records it removes may be ones a feed has not read yet (it then raises the
    /// log's removed-through position, and such a feed gets `position-removed`).
    var isLossy: Bool {
        if case .maxCountPerKey = rule { return false }
        return types == nil
    }

    /// Checks the policy; throws `invalid-retention` with what to change.
    func validate() throws {
        func invalid(_ message: String) -> KirokuError { KirokuError(.invalidRetention, "\(message) (policy: \(self.summary)).") }
        if let prefix, prefix.isEmpty { throw invalid("A retention prefix is empty; leave it out to apply the policy to every key") }
        if let types {
            guard !types.isEmpty, types.allSatisfy({ !$0.isEmpty }) else { throw invalid("A retention policy's types are empty; name at least one event type, or leave types out") }
            guard case .maxAge = rule else { throw invalid("Only a maxAge policy can name event types (it erases their old payloads); give maxAge, or leave types out") }
        }
        switch rule {
        case .maxAge(let seconds):
            guard seconds > 0, seconds.isFinite else { throw invalid("maxAge must be a positive number of seconds") }
        case .maxCountPerKey(let count):
            guard count >= 1 else { throw invalid("maxCountPerKey must be at least 1 (1 keeps each key's latest record)") }
        case .maxBytes(let bytes):
            guard bytes >= 1 else { throw invalid("maxBytes must be at least 1") }
            guard prefix == nil else { throw invalid("maxBytes applies to the whole log; leave the prefix out, or use maxAge or maxCountPerKey for a prefix") }
        case .maxRecords(let count):
            guard count >= 1 else { throw invalid("maxRecords must be at least 1") }
            guard prefix == nil else { throw invalid("maxRecords applies to the whole log; leave the prefix out, or use maxCountPerKey for a prefix") }
        }
    }

    /// One line for messages and `kiroku retention`.
    public var summary: String {
        var text: String
        switch rule {
        case .maxAge(let seconds): text = "max-age \(Self.formatSeconds(seconds))"
        case .maxCountPerKey(1): text = "compact"
        case .maxCountPerKey(let count): text = "max-count-per-key \(count)"
        case .maxBytes(let bytes): text = "max-bytes \(bytes)"
        case .maxRecords(let count): text = "max-records \(count)"
        }
        text += prefix.map { " prefix \"\($0)\"" } ?? " (every key)"
        if let types { text += " types \(types.joined(separator: ",")) (erases payloads)" }
        return text
    }

    static func formatSeconds(_ seconds: Double) -> String {
        for (unit, size) in [("d", 86_400.0), ("h", 3_600.0), ("m", 60.0)] where seconds >= size && seconds.truncatingRemainder(dividingBy: size) == 0 {
            return "\(Int(seconds / size))\(unit)"
        }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}

/// What removal steps did, and what is left.
public struct RetentionReport: Sendable, Hashable, Codable {
    /// Records removed.
    public var removed = 0
    /// Records whose payloads were erased.
    public var erased = 0
    /// Steps (write transactions) taken.
    public var steps = 0
    /// Whether work is left (a step stopped at its budget); enforcing again goes on.
    public var more = false

    /// An empty report.
    public init() {}

    mutating func add(_ other: RetentionReport) {
        removed += other.removed
        erased += other.erased
        steps += other.steps
        more = other.more
    }
}
