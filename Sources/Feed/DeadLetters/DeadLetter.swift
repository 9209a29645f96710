import Foundation

/// A record a consumer's handler failed on, kept so that one bad record never stalls the rest.
public struct DeadLetter: Codable, Sendable, Hashable {
    /// Why the record is here.
    public enum State: String, Codable, Sendable, Hashable {
        /// The handler failed on it `attempts` times.
        case failed
        /// A retry was asked for; the running processor will run the handler on it again.
        case retryRequested = "retry-requested"
        /// Not tried: an earlier record of its key failed under the `holdKey` policy, and this
        /// one waits until that dead letter is retried or skipped.
        case held
    }

    /// The consumer whose handler failed.
    public var consumer: String
    /// The record's global position.
    public var position: UInt64
    /// The record's partition key.
    public var key: String
    /// The record's event type.
    public var type: String
    /// The last error's text.
    public var error: String
    /// How many times the handler ran on it.
    public var attempts: Int
    /// When it was dead-lettered (or last retried).
    public var time: Date
    /// Why it is here.
    public var state: State
    /// Whether later records of its key wait for it (the `holdKey` policy).
    public var holdsKey: Bool
}

extension DeadLetter {
    /// This letter after the handler failed on it again.
    func failing(_ error: String, attempts: Int, holdsKey: Bool) -> DeadLetter {
        var failed = self
        failed.state = .failed
        failed.error = error
        failed.attempts = attempts
        failed.time = Date()
        failed.holdsKey = holdsKey
        return failed
    }
}
