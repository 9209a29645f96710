import Foundation
import Log

/// The dead-letter store of a log's consumers (table `feed-dead-letters`), committed through
/// the log's writer like checkpoints.
///
/// Operators list, retry, skip and purge dead letters here (or with `kiroku deadletters`); a
/// running ``KeyedProcessor`` of the consumer notices requested retries and skips within its
/// control interval and runs the handler again, in key order.
public struct DeadLetters: Sendable {
    /// The log the consumers read.
    public let log: EventLog
    let table: LogTable

    /// Opens the dead-letter store of `log`.
    public init(log: EventLog) async throws {
        self.log = log
        table = try await log.table(named: "feed-dead-letters")
    }

    /// The consumer's dead letters, by position.
    public func list(consumer: String) throws -> [DeadLetter] {
        try ConsumerName.validate(consumer)
        return try log.allEntries(in: table, prefix: Self.prefix(consumer)).map { try decode($0.value, consumer: consumer) }
    }

    /// The dead letter at `position`, or `nil`.
    public func letter(consumer: String, position: UInt64) throws -> DeadLetter? {
        try ConsumerName.validate(consumer)
        return try log.value(in: table, for: Self.key(consumer, position)).map { try decode($0, consumer: consumer) }
    }

    /// Asks the consumer's processor to run its handler on this dead letter again. On success
    /// the letter is removed and its key's held records follow in order.
    ///
    /// - Throws: ``KirokuError/Code/deadLetterNotFound``.
    public func retry(consumer: String, position: UInt64) async throws {
        var letter = try actionable(consumer: consumer, position: position)
        letter.state = .retryRequested
        try await save(letter)
    }

    /// Gives up on this dead letter: removes it without running the handler. Its key's held
    /// records are released to the processor, in order.
    ///
    /// - Throws: ``KirokuError/Code/deadLetterNotFound``.
    public func skip(consumer: String, position: UInt64) async throws {
        try await remove(try actionable(consumer: consumer, position: position))
    }

    /// Removes every dead letter of the consumer, held ones included: those records are given
    /// up on. Returns how many were removed.
    @discardableResult
    public func purge(consumer: String) async throws -> Int {
        let letters = try list(consumer: consumer)
        try await log.write(letters.map { .delete(table, key: Self.key(consumer, $0.position)) })
        return letters.count
    }

    // MARK: Used by the processor

    func save(_ letter: DeadLetter) async throws {
        try await log.write([.put(table, key: Self.key(letter.consumer, letter.position), value: Array(try JSONEncoder().encode(letter)))])
    }

    func remove(_ letter: DeadLetter) async throws {
        try await log.write([.delete(table, key: Self.key(letter.consumer, letter.position))])
    }

    static func prefix(_ consumer: String) -> [UInt8] {
        Array(consumer.utf8) + [0]
    }

    static func key(_ consumer: String, _ position: UInt64) -> [UInt8] {
        var key = prefix(consumer)
        withUnsafeBytes(of: position.bigEndian) { key.append(contentsOf: $0) }
        return key
    }

    private func decode(_ bytes: [UInt8], consumer: String) throws -> DeadLetter {
        do {
            return try JSONDecoder().decode(DeadLetter.self, from: Data(bytes))
        } catch {
            throw KirokuError(.corruption, "A dead letter of consumer '\(consumer)' is damaged (\(error)); purge the consumer's dead letters.")
        }
    }

    /// The dead letter at `position` when it can be retried or skipped (not a held one).
    private func actionable(consumer: String, position: UInt64) throws -> DeadLetter {
        let found = try letter(consumer: consumer, position: position)
        guard let found, found.state != .held else {
            throw notFound(consumer, position, held: found != nil)
        }
        return found
    }

    private func notFound(_ consumer: String, _ position: UInt64, held: Bool) -> KirokuError {
        KirokuError(.deadLetterNotFound, held
            ? "The record at \(position) is held behind an earlier dead letter of its key for consumer '\(consumer)'; retry or skip that one."
            : "Consumer '\(consumer)' has no dead letter at position \(position); list its dead letters to see which exist.",
            position: position)
    }
}
