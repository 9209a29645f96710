import Foundation
import KirokuLog

/// The dead-letter store of a log's consumers, committed through the log's writer like
/// checkpoints, in three tables that change together in one write:
///
/// - `feed-dead-letters`: consumer, position → the letter (JSON);
/// - `feed-dead-letter-keys`: consumer, key, position → whether that letter holds its key, so
///   that a key's held records are found, in order, without reading the other keys' letters;
/// - `feed-dead-letter-requests`: consumer, position → a retry or a release asked for by an
///   operator, which the running processor takes within its control interval.
///
/// Operators list, retry, skip and purge dead letters here (or with `kiroku deadletters`). The
/// processor never reads the whole store while it runs: only the requests, and the letters of
/// one key when it releases it, in pages. Memory stays bounded however many letters pile up.
public struct DeadLetters: Sendable {
    /// The log the consumers read.
    public let log: EventLog
    let letters: LogTable
    let byKey: LogTable
    let requests: LogTable

    /// Opens the dead-letter store of `log`.
    public init(log: EventLog) async throws {
        self.log = log
        letters = try await log.table(named: "feed-dead-letters")
        byKey = try await log.table(named: "feed-dead-letter-keys")
        requests = try await log.table(named: "feed-dead-letter-requests")
    }

    /// The consumer's dead letters, by position.
    public func list(consumer: String) throws -> [DeadLetter] {
        try ConsumerName.validate(consumer)
        return try log.allEntries(in: letters, prefix: Self.prefix(consumer)).map { try decode($0.value, consumer: consumer) }
    }

    /// Up to `limit` of the consumer's dead letters, by position, after `after` when given.
    public func list(consumer: String, after: UInt64?, limit: Int) throws -> [DeadLetter] {
        try ConsumerName.validate(consumer)
        return try log.entries(in: letters, prefix: Self.prefix(consumer), after: after.map { Self.key(consumer, $0) }, limit: limit)
            .map { try decode($0.value, consumer: consumer) }
    }

    /// The dead letter at `position`, or `nil`.
    public func letter(consumer: String, position: UInt64) throws -> DeadLetter? {
        try ConsumerName.validate(consumer)
        return try log.value(in: letters, for: Self.key(consumer, position)).map { try decode($0, consumer: consumer) }
    }

    /// Asks the consumer's processor to run its handler on this dead letter again. On success
    /// the letter is removed and its key's held records follow in order.
    ///
    /// - Throws: ``KirokuError/Code/deadLetterNotFound``.
    public func retry(consumer: String, position: UInt64) async throws {
        var letter = try actionable(consumer: consumer, position: position)
        letter.state = .retryRequested
        try await log.write(try writes(saving: letter) + [request(.retry, consumer: consumer, position: position, key: letter.key)])
    }

    /// Gives up on this dead letter: removes it without running the handler. Its key's held
    /// records are released to the processor, in order.
    ///
    /// - Throws: ``KirokuError/Code/deadLetterNotFound``.
    public func skip(consumer: String, position: UInt64) async throws {
        let letter = try actionable(consumer: consumer, position: position)
        var changes = writes(removing: letter)
        if letter.holdsKey { changes.append(request(.release, consumer: consumer, position: position, key: letter.key)) }
        try await log.write(changes)
    }

    /// Removes every dead letter of the consumer, held ones included: those records are given
    /// up on, and their keys are released. Returns how many were removed.
    @discardableResult
    public func purge(consumer: String) async throws -> Int {
        try ConsumerName.validate(consumer)
        var removed = 0
        var after: UInt64?
        while true {
            let page = try list(consumer: consumer, after: after, limit: 500)
            guard let last = page.last else { break }
            var changes = page.flatMap(writes(removing:))
            for letter in page where letter.holdsKey {
                changes.append(request(.release, consumer: consumer, position: letter.position, key: letter.key))
            }
            try await log.write(changes)
            removed += page.count
            after = last.position
        }
        return removed
    }

    // MARK: Used by the processor

    /// What an operator asked of a running processor.
    enum Request: UInt8, Sendable {
        /// Run the handler again on the letter at the position.
        case retry = 1
        /// The letter that held the key is gone: handle the key's held records.
        case release = 2
    }

    func save(_ letter: DeadLetter) async throws {
        try await log.write(try writes(saving: letter))
    }

    func remove(_ letter: DeadLetter) async throws {
        try await log.write(writes(removing: letter))
    }

    /// Up to `limit` pending requests of the consumer, oldest position first.
    func pendingRequests(consumer: String, limit: Int) throws -> [(position: UInt64, request: Request, key: String)] {
        try log.entries(in: requests, prefix: Self.prefix(consumer), limit: limit).compactMap { entry in
            guard let kind = entry.value.first.flatMap(Request.init(rawValue:)),
                  let key = String(validating: entry.value.dropFirst(), as: UTF8.self) else { return nil }
            return (Self.position(entry.key), kind, key)
        }
    }

    /// Forgets requests the processor has taken.
    func clearRequests(consumer: String, positions: [UInt64]) async throws {
        guard !positions.isEmpty else { return }
        try await log.write(positions.map { .delete(requests, key: Self.key(consumer, $0)) })
    }

    /// Whether a dead letter of `key` (failed, or waiting for its retry) holds the key.
    func holdsKey(consumer: String, key: String) throws -> Bool {
        var after: [UInt8]?
        while true {
            let page = try log.entries(in: byKey, prefix: Self.keyPrefix(consumer, key), after: after, limit: 500)
            guard let last = page.last else { return false }
            if page.contains(where: { $0.value.first == Holding.holds.rawValue }) { return true }
            after = last.key
        }
    }

    /// Up to `limit` of the held letters of `key`, in position order, after `after` when given.
    func heldLetters(consumer: String, key: String, after: UInt64?, limit: Int) throws -> [DeadLetter] {
        let prefix = Self.keyPrefix(consumer, key)
        var found: [DeadLetter] = []
        var cursor = after.map { prefix + Self.positionBytes($0) }
        while found.count < limit {
            let page = try log.entries(in: byKey, prefix: prefix, after: cursor, limit: limit)
            guard let last = page.last else { break }
            for entry in page where entry.value.first == Holding.held.rawValue {
                if let letter = try letter(consumer: consumer, position: Self.position(entry.key)) { found.append(letter) }
            }
            cursor = last.key
        }
        return found
    }

    /// How a letter stands toward its key, in `feed-dead-letter-keys`.
    private enum Holding: UInt8 {
        case held = 0
        case holds = 1
        case free = 2
    }

    /// The key-index entry of a letter (to fill in letters stored before the index existed).
    func indexWrites(_ letter: DeadLetter) throws -> [TableWrite] {
        Array(try writes(saving: letter).dropFirst())
    }

    private func writes(saving letter: DeadLetter) throws -> [TableWrite] {
        let holding: Holding = letter.state == .held ? .held : (letter.holdsKey ? .holds : .free)
        return [
            .put(letters, key: Self.key(letter.consumer, letter.position), value: Array(try JSONEncoder().encode(letter))),
            .put(byKey, key: Self.keyPrefix(letter.consumer, letter.key) + Self.positionBytes(letter.position), value: [holding.rawValue]),
        ]
    }

    private func writes(removing letter: DeadLetter) -> [TableWrite] {
        [
            .delete(letters, key: Self.key(letter.consumer, letter.position)),
            .delete(byKey, key: Self.keyPrefix(letter.consumer, letter.key) + Self.positionBytes(letter.position)),
            .delete(requests, key: Self.key(letter.consumer, letter.position)),
        ]
    }

    private func request(_ kind: Request, consumer: String, position: UInt64, key: String) -> TableWrite {
        .put(requests, key: Self.key(consumer, position), value: [kind.rawValue] + Array(key.utf8))
    }

    static func prefix(_ consumer: String) -> [UInt8] {
        Array(consumer.utf8) + [0]
    }

    static func key(_ consumer: String, _ position: UInt64) -> [UInt8] {
        prefix(consumer) + positionBytes(position)
    }

    /// Consumer, NUL, the key's length (2 bytes BE) and bytes: keys may hold NUL themselves.
    static func keyPrefix(_ consumer: String, _ key: String) -> [UInt8] {
        let bytes = Array(key.utf8)
        return prefix(consumer) + [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    static func positionBytes(_ position: UInt64) -> [UInt8] {
        withUnsafeBytes(of: position.bigEndian) { Array($0) }
    }

    static func position(_ key: [UInt8]) -> UInt64 {
        key.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
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
