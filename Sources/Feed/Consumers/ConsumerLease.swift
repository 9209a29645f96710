import Foundation
import KirokuLog

extension KirokuError.Code {
    /// Another holder took over this process's consumer lease (this one did not renew it in
    /// time: a pause longer than the lease, a clock jump). The processor or tail stopped
    /// without committing its checkpoint; the new holder goes on from the last one.
    public static let leaseLost = Self("lease-lost")
}

/// Who holds a consumer's lease, as the store records it.
public struct LeaseHolder: Sendable, Hashable, Codable {
    /// The holder's identity: `pid@host/random`.
    public var holder: String
    /// When it took the lease.
    public var since: Date
    /// When it last renewed it.
    public var renewedAt: Date
    /// When the lease ends unless renewed: another process may take it over from then on.
    public var expiresAt: Date
}

/// One running owner per named consumer, across processes: a lease in the store (table
/// `feed-leases`: holder, renewal time, expiry), taken before a consumer starts, renewed every
/// third of its duration while it runs, released when it stops.
///
/// A second process of the same consumer waits (or, with `wait: false`, is refused with
/// `consumer-busy` naming the holder) and takes over once the lease expires: at most `ttl`
/// after the holder died, plus a polling interval of `ttl / 4`. Every checkpoint the holder
/// commits is fenced: it carries a check that the lease is still its own, in the same
/// transaction, so a holder that paused past its lease (and was taken over) cannot move the
/// new holder's checkpoint; it stops with `lease-lost` instead.
public final class ConsumerLease: Sendable {
    /// The log the consumer reads.
    public let log: EventLog
    /// The consumer's name.
    public let consumer: String
    /// How long the lease lasts without renewal.
    public let ttl: Duration
    /// This process's identity for the lease.
    public let holder: String
    private let table: LogTable

    /// Makes a lease handle; nothing is taken until ``acquire(wait:)``.
    public init(log: EventLog, consumer: String, ttl: Duration = .seconds(10)) async throws {
        try ConsumerName.validate(consumer)
        guard ttl >= .milliseconds(100) else {
            throw KirokuError(.invalidProcessorOption, "A consumer lease must last at least 100 ms (got \(ttl)).")
        }
        self.log = log
        self.consumer = consumer
        self.ttl = ttl
        holder = "\(ProcessInfo.processInfo.processIdentifier)@\(ProcessInfo.processInfo.hostName)/\(UUID().uuidString.prefix(8).lowercased())"
        table = try await log.table(named: "feed-leases")
    }

    /// The holder of `consumer`'s lease, or `nil` when nobody holds it (never taken, released,
    /// or expired: then `expiresAt` is in the past).
    public static func holder(of consumer: String, in log: EventLog) async throws -> LeaseHolder? {
        let table = try await log.table(named: "feed-leases")
        return try read(table, consumer, log)
    }

    private static func read(_ table: LogTable, _ consumer: String, _ log: EventLog) throws -> LeaseHolder? {
        guard let bytes = try log.value(in: table, for: Array(consumer.utf8)) else { return nil }
        do {
            return try decode(bytes)
        } catch {
            throw KirokuError(.corruption, "The lease of consumer '\(consumer)' is damaged (\(error)); the next process that runs the consumer replaces it.")
        }
    }

    private var key: [UInt8] { Array(consumer.utf8) }

    private func encode(_ lease: LeaseHolder) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return Array(try encoder.encode(lease))
    }

    private static func decode(_ bytes: [UInt8]) throws -> LeaseHolder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(LeaseHolder.self, from: Data(bytes))
    }

    private func current() throws -> (lease: LeaseHolder?, bytes: [UInt8]?) {
        let bytes = try log.value(in: table, for: key)
        // A damaged lease reads as none: the next holder replaces it.
        return (bytes.flatMap { try? Self.decode($0) }, bytes)
    }

    /// Takes the lease: at once when it is free, expired or already this process's; else
    /// waits for it to expire (polling every `ttl / 4`), or with `wait: false` throws
    /// `consumer-busy` naming the holder. Ends at once (with `CancellationError`) when the task
    /// is cancelled or `stopped` says so.
    public func acquire(wait: Bool = true, until stopped: @Sendable () -> Bool = { false }) async throws {
        while true {
            try Task.checkCancellation()
            if stopped() { throw CancellationError() }
            let now = Date()
            let (lease, bytes) = try current()
            if let lease, lease.holder != holder, lease.expiresAt > now {
                guard wait else {
                    throw KirokuError(.consumerBusy, "Consumer '\(consumer)' is running in another process (\(lease.holder), lease renewed \(lease.renewedAt.formatted(.iso8601)), until \(lease.expiresAt.formatted(.iso8601))); run one owner per consumer, or wait for it to stop.")
                }
                // Short naps, so that a stop is heard at once.
                let until = ContinuousClock.now + ttl / 4
                while ContinuousClock.now < until, !stopped() { try await Task.sleep(for: min(ttl / 4, .milliseconds(50))) }
                continue
            }
            let mine = LeaseHolder(holder: holder, since: lease?.holder == holder ? lease!.since : now, renewedAt: now, expiresAt: now + ttl.seconds)
            do {
                // Compare-and-set: another process taking it meanwhile makes this one look again.
                try await log.write([.expect(table, key: key, value: bytes), .put(table, key: key, value: try encode(mine))])
                return
            } catch let error as KirokuError where error.code == .tableConflict {
                continue
            }
        }
    }

    /// Renews the lease; throws `lease-lost` when another holder took it over.
    public func renew() async throws {
        let (lease, bytes) = try current()
        guard let lease, lease.holder == holder, let bytes else { throw lost(lease) }
        let now = Date()
        let renewed = LeaseHolder(holder: holder, since: lease.since, renewedAt: now, expiresAt: now + ttl.seconds)
        do {
            try await log.write([.expect(table, key: key, value: bytes), .put(table, key: key, value: try encode(renewed))])
        } catch let error as KirokuError where error.code == .tableConflict {
            throw lost(try current().lease)
        }
    }

    private func lost(_ lease: LeaseHolder?) -> KirokuError {
        KirokuError(.leaseLost, "Consumer '\(consumer)' lost its lease to \(lease?.holder ?? "nobody (it was released)"): this process did not renew it within \(ttl) (a long pause?). It stopped without committing; the new holder goes on from the last checkpoint.")
    }

    /// The check that makes a checkpoint commit fenced: it holds only while the stored lease
    /// is still this process's, as now stored (``Consumers/commit(_:position:stallAfter:lease:)``
    /// reads it again when a renewal changed it between).
    ///
    /// - Throws: `lease-lost` when another holder has the lease.
    public func fence() throws -> TableWrite {
        let (lease, bytes) = try current()
        guard let lease, lease.holder == holder, let bytes else { throw lost(lease) }
        return .expect(table, key: key, value: bytes)
    }

    /// Gives the lease up (when this process still holds it), so another process takes over at once.
    public func release() async {
        guard let (lease, bytes) = try? current(), lease?.holder == holder else { return }
        try? await log.write([.expect(table, key: key, value: bytes), .delete(table, key: key)])
    }

    /// Runs `body` while renewing the lease every `ttl / 3`; when a renewal finds the lease
    /// lost, `body` is cancelled and this throws `lease-lost`. The lease is released after.
    public func hold<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            let result = try await holding(body)
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }

    private func holding<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                // Cancelled (the body's task was, or the body ended): renewals end quietly, so
                // a body that handles cancellation (a graceful stop) finishes and returns.
                while !Task.isCancelled {
                    do { try await Task.sleep(for: self.ttl / 3) } catch { return nil }
                    try await self.renew()
                }
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }
}
