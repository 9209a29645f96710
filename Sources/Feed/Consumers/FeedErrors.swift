import KirokuLog

extension KirokuError.Code {
    /// A consumer name is empty, too long, or holds a NUL character.
    public static let invalidConsumerName = Self("invalid-consumer-name")
    /// No dead letter of that consumer at that position.
    public static let deadLetterNotFound = Self("dead-letter-not-found")
    /// A processor option is out of range.
    public static let invalidProcessorOption = Self("invalid-processor-option")
    /// Another processor of the same consumer is already running in this process.
    public static let consumerBusy = Self("consumer-busy")
    /// The processor could not record a dead letter (or its change) after every attempt: it
    /// stopped, so that no later record of the key runs before it; the record is delivered
    /// again when the processor runs again.
    public static let deadLetterWriteFailed = Self("dead-letter-write-failed")
}

enum ConsumerName {
    /// Checks a consumer name: 1 to 200 UTF-8 bytes, no NUL (dead-letter keys use NUL as separator).
    static func validate(_ name: String) throws {
        let bytes = name.utf8.count
        guard bytes > 0, bytes <= 200, !name.utf8.contains(0) else {
            throw KirokuError(.invalidConsumerName, "'\(name.prefix(40))' cannot name a consumer: use 1 to 200 UTF-8 bytes without NUL, such as \"search-indexer\".")
        }
    }
}
