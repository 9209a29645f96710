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
