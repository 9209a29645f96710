import DequeModule
import Foundation
import KirokuFeed
import KirokuLog
import KirokuNATS
import Logging
import ServiceLifecycle

/// Relays a store's log to a JetStream stream: stream sequence = log position, every record
/// once and in order, across crashes of any length, a second (zombie) relay, and the loss of
/// NATS servers.
///
/// Each record is published with `Nats-Expected-Last-Sequence: position - 1`, so the stream
/// takes position N only right after N - 1, whoever publishes it; publishes are pipelined on
/// one connection (``RelayOptions/window`` in flight). After any error or timeout the relay
/// drops the connection, connects again (to any server of the cluster), reads the stream's
/// last message (the relay's source of truth), checks it against the log, and resumes after
/// it. A checkpoint in the store's consumers (``RelayOptions/consumerName``) shows its lag in
/// `kiroku consumers`; it is never used to resume.
///
/// ```swift
/// let relay = Relay(log: log, options: RelayOptions(servers: [try NATSServerURL(parsing: "nats://127.0.0.1:4222")]))
/// let group = ServiceGroup(services: [relay], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class Relay: Service, Sendable {
    /// The log relayed.
    public let log: EventLog
    /// The settings.
    public let options: RelayOptions
    /// The stream's name.
    public let streamName: String
    /// The consumer checkpoint's name.
    public let consumerName: String
    private let client: NATSClient
    private let logger: Logger
    private let state = Locked(RelayStatus())

    /// A relay of `log` to the cluster `options` names.
    public init(log: EventLog, options: RelayOptions, logger: Logger = Logger(label: "kiroku.relay")) {
        self.log = log
        self.options = options
        self.logger = logger
        streamName = options.stream ?? RelayOptions.defaultStreamName(for: log.storeId)
        consumerName = options.consumerName ?? "relay:\(streamName)"
        client = NATSClient(servers: options.servers, name: "kiroku-relay", connectTimeout: options.connectTimeout, logger: logger)
    }

    /// What the relay has done so far.
    public var status: RelayStatus { state.withLock { $0 } }

    /// Relays until cancelled or a graceful shutdown; throws only for what retrying cannot fix
    /// (``KirokuError/Code/relayDiverged``, ``KirokuError/Code/relayRecordTooLarge``, a closed
    /// or damaged log, a stream JetStream refuses to create).
    public func run() async throws {
        try await Reconnecting.serve(recordFailure: { error in state.withLock { $0.failure = error } }) { try await self.loop() }
    }

    /// Waits until the stream has acknowledged every position up to `position`.
    ///
    /// - Throws: the relay's error when it stopped; ``KirokuError/Code/natsTimeout`` after `timeout`.
    public func waitUntilAcknowledged(_ position: UInt64, timeout: Duration) async throws {
        try await Reconnecting.waitUntil(timeout: timeout, failure: { status.failure }, timedOut: {
            "The relay acknowledged position \(status.acknowledged), not \(position), within \(timeout); see its log for what it retries."
        }) { status.acknowledged >= position }
    }

    private func loop() async throws {
        let consumers = try await Consumers(log: log)
        let reconnecting = Reconnecting(client: client, logger: logger, name: "Relay", stream: streamName,
                                        fatal: [.relayDiverged, .relayRecordTooLarge, .closed, .corruption, .flushFailed])
        do {
            try await reconnecting.run(progress: { [state] in state.withLock { $0.acknowledgements } }, retried: { error in
                state.withLock {
                    $0.retries += 1
                    $0.lastError = "\(error)"
                }
            }, session: { connection in try await session(connection, consumers: consumers) })
        } catch {
            try? await consumers.commit(consumerName, position: status.acknowledged, stallAfter: options.stallAfter)
            throw error
        }
        // A last checkpoint on the way out, best effort (the stream stays the source of truth).
        try? await consumers.commit(consumerName, position: status.acknowledged, stallAfter: options.stallAfter)
    }

    /// One connection's work: find where the stream ends, check it, publish after it.
    private func session(_ connection: NATSConnection, consumers: Consumers) async throws {
        let jetStream = JetStream(connection, timeout: options.requestTimeout)
        let store = log.storeId
        var info = try await jetStream.streamInfo(streamName)
        if info == nil {
            let config = JetStream.StreamConfig(
                name: streamName, description: "Kiroku store \(store.uuidString.lowercased())",
                subjects: [RecordMessage.subjects(store: store)], numReplicas: options.replicas,
                duplicateWindow: options.duplicateWindow)
            do {
                info = try await jetStream.createStream(config)
                logger.info("Created stream", metadata: ["stream": "\(streamName)", "replicas": "\(options.replicas)"])
            } catch let error as KirokuError where error.code == .jetStreamError {
                // Another relay may have created it meanwhile; anything else is a setting to fix.
                guard let existing = try await jetStream.streamInfo(streamName) else {
                    throw KirokuError(.relayDiverged, "JetStream refused to create stream \(streamName) (\(error.message)). Check the settings: --replicas \(options.replicas) needs that many JetStream servers in the cluster, and the stream's subjects (this store's) must not overlap another stream's (one stream per store; delete the old one or give it with --stream). Then start the relay again.")
                }
                info = existing
            }
        }
        guard let info else { return }
        guard RecordMessage.store(fromSubjects: info.config.subjects) == store else {
            throw KirokuError(.relayDiverged, "Stream \(streamName) takes subjects \(info.config.subjects), not this store's (\(RecordMessage.subjects(store: store))); give each store its own stream (--stream).")
        }
        let last = info.state.lastSeq
        try await checkStreamEnd(last, jetStream: jetStream)
        state.withLock {
            $0.acknowledged = last
            $0.connectedTo = connection.server.description
        }
        try await publish(after: last, connection: connection, consumers: consumers)
    }

    /// Checks that the stream's last message is this log's record at that position.
    private func checkStreamEnd(_ last: UInt64, jetStream: JetStream) async throws {
        let head = try log.headPosition()
        guard last <= head else {
            throw KirokuError(.relayDiverged, "Stream \(streamName) ends at position \(last) but this log's head is \(head): the stream holds records this store does not (the store was restored from an older copy, or another store shares its id). Relay to a new stream, or restore the store's newer copy.", path: log.path, position: last)
        }
        guard last > 0 else { return }
        guard let message = try await jetStream.message(streamName, sequence: last) else {
            throw KirokuError(.relayDiverged, "Stream \(streamName) reports \(last) as its last sequence but holds no message there; it was purged or edited. Relay to a new stream.", path: log.path, position: last)
        }
        let stored = try log.recordChecksum(at: last)
        let relayed = message.headers?["Kiroku-Checksum"].flatMap { UInt64($0, radix: 16) }
        guard message.headers?["Kiroku-Store"] == log.storeId.uuidString.lowercased(),
              message.headers?["Kiroku-Position"] == String(last), relayed != nil, relayed == stored else {
            throw KirokuError(.relayDiverged, "The message at sequence \(last) of stream \(streamName) is not this log's record at position \(last) (its store, position or checksum differ): the stream and the store hold different histories. Relay to a new stream.", path: log.path, position: last)
        }
    }

    /// Publishes from `last + 1` on, pipelined, until an error ends the session.
    private func publish(after last: UInt64, connection: NATSConnection, consumers: Consumers) async throws {
        let inbox = connection.newInbox()
        let acks = try connection.subscribe(inbox + ".*")
        let replyPrefix = inbox + "."
        let storeText = RecordMessage.storeText(log.storeId)
        let subjectPrefix = "kiroku.\(storeText)."
        let maxPayload = connection.info.maxPayload
        let window = max(1, options.window)
        // Refill once 64 publishes (or a quarter of a small window) are acknowledged: fewer,
        // larger reads and writes, yet a steady stream for the server.
        let refillAt = max(1, min(64, options.readBatch, window / 4))
        // Keys and types repeat: their encodings (and each key's subject) are kept.
        var keys: [ExactString: (encoded: String, subject: String)] = [:]
        var types: [ExactString: String] = [:]
        var next = last + 1
        // Positions published and not yet acknowledged, with their commit times (for the hook).
        var inFlight = Deque<(position: UInt64, committed: Date)>()
        var early = Set<UInt64>()
        var checkpointed: UInt64? = nil
        var lastCheckpoint = ContinuousClock.now - options.checkpointInterval
        // A record NATS cannot take: the records before it are relayed, then the relay stops.
        var blocked: KirokuError?
        var headers: [UInt8] = []

        func checkpoint(force: Bool = false) async throws {
            let acknowledged = state.withLock { $0.acknowledged }
            guard acknowledged != checkpointed, force || ContinuousClock.now - lastCheckpoint >= options.checkpointInterval else { return }
            try await consumers.commit(consumerName, position: acknowledged, stallAfter: options.stallAfter)
            checkpointed = acknowledged
            lastCheckpoint = ContinuousClock.now
        }

        func encoded(key: String) -> (encoded: String, subject: String) {
            let exact = ExactString(key)
            if let known = keys[exact] { return known }
            if keys.count >= 65_536 { keys.removeAll(keepingCapacity: true) }
            let encoded = KeyEncoding.encode(key)
            let made = (encoded, subjectPrefix + encoded)
            keys[exact] = made
            return made
        }
        func encoded(type: String) -> String {
            let exact = ExactString(type)
            if let known = types[exact] { return known }
            if types.count >= 4096 { types.removeAll(keepingCapacity: true) }
            let encoded = KeyEncoding.encode(type)
            types[exact] = encoded
            return encoded
        }

        while true {
            try Task.checkCancellation()
            let room = window - inFlight.count
            if blocked == nil, room >= refillAt || inFlight.isEmpty {
                let take = min(room, options.readBatch)
                // One record more than sent: it tells whether the last one sent ends a commit.
                let batch = try log.readAllWithChecksums(from: next, limit: take + 1)
                if !batch.isEmpty {
                    let sending = min(batch.count, take)
                    var frames = NATSFrames()
                    for index in 0..<sending {
                        let (record, checksum) = batch[index]
                        guard record.position == next else {
                            throw KirokuError(.corruption, "The log skipped from position \(next - 1) to \(record.position); run verify.", path: log.path, position: next)
                        }
                        let commitEnd = index + 1 == batch.count || batch[index + 1].record.timestamp != record.timestamp
                        let key = encoded(key: record.key)
                        RecordMessage.writeHeaderBlock(record, store: storeText, checksum: checksum, commitEnd: commitEnd,
                                                       encodedKey: key.encoded, encodedType: encoded(type: record.type), into: &headers)
                        guard headers.count <= RecordMessage.maxHeaderBytes, headers.count + record.payload.count <= maxPayload else {
                            blocked = KirokuError(.relayRecordTooLarge, "The record at position \(record.position) takes \(headers.count) bytes of headers and \(record.payload.count) of payload; NATS takes at most \(RecordMessage.maxHeaderBytes) of headers and \(maxPayload) in all (the server's max_payload). Raise max_payload in the nats-server configuration (up to 64 MB) and keep metadata under about 48 KB; the relay cannot skip a record.", path: log.path, key: record.key, position: record.position)
                            break
                        }
                        frames.publish(key.subject, replyTo: replyPrefix + String(record.position),
                                       headerBlock: headers, payload: record.payload)
                        inFlight.append((record.position, record.timestamp))
                        next += 1
                    }
                    if frames.byteCount > 0 { try connection.write(frames) }
                    state.withLock { $0.published = next - 1 }
                    if blocked == nil || !inFlight.isEmpty { continue }
                }
            }
            if inFlight.isEmpty {
                if let blocked {
                    try await checkpoint(force: true)
                    throw blocked
                }
                try await checkpoint()
                try await waitForAppends(after: next - 1, upTo: options.checkpointInterval)
                continue
            }
            for message in try await acks.next(upTo: window, timeout: options.ackTimeout) {
                guard let position = Self.position(inReply: message.subject, prefixBytes: replyPrefix.utf8.count) else { continue }
                let ack = try JetStream.pubAck(message)
                if let error = ack.error {
                    if error.errCode == JetStream.APIError.wrongLastSequence {
                        throw KirokuError(.jetStreamError, "The stream refused position \(position): \(error.description ?? "wrong last sequence") (another relay may be publishing, or an earlier publish failed); re-reading the stream's end.")
                    }
                    throw JetStream.failure(error, doing: "storing position \(position)")
                }
                guard ack.seq == position else {
                    throw KirokuError(.relayDiverged, "Stream \(streamName) stored position \(position) at sequence \(ack.seq.map(String.init) ?? "none"); the stream's sequence must equal the log's position. Relay to a new stream (one used by nothing else).", path: log.path, position: position)
                }
                early.insert(position)
            }
            var acknowledged: UInt64?
            while let first = inFlight.first, early.remove(first.position) != nil {
                inFlight.removeFirst()
                acknowledged = first.position
                options.onAcknowledge?(first.position, first.committed)
            }
            if let acknowledged {
                let now = Date()
                state.withLock {
                    $0.acknowledged = acknowledged
                    $0.lastAcknowledgedAt = now
                    $0.acknowledgements += 1
                }
                try await checkpoint()
            }
        }
    }

    /// The position an acknowledgement's subject (`<inbox>.<position>`) names.
    private static func position(inReply subject: String, prefixBytes: Int) -> UInt64? {
        var value: UInt64 = 0
        var digits = 0
        for byte in subject.utf8.dropFirst(prefixBytes) {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    /// Waits for an append past `position`, or `interval` at most.
    private func waitForAppends(after position: UInt64, upTo interval: Duration) async throws {
        let log = self.log
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await log.waitForAppends(after: position) }
            group.addTask { try await Task.sleep(for: interval) }
            defer { group.cancelAll() }
            _ = try await group.next()
        }
    }
}

/// The relay's settings.
public struct RelayOptions: Sendable {
    /// The NATS servers to start from (the cluster announces the others).
    public var servers: [NATSServerURL]
    /// The stream's name; `kiroku-<store id>` when `nil`.
    public var stream: String?
    /// How many servers keep the stream (JetStream's `num_replicas`), when the relay creates it.
    public var replicas = 3
    /// JetStream's `Nats-Msg-Id` deduplication window, when the relay creates the stream. The
    /// sequence chain, not this window, is what keeps a record from being stored twice.
    public var duplicateWindow: Duration = .seconds(120)
    /// How many publishes may wait for their acknowledgement.
    public var window = 512
    /// How many records one read of the log takes.
    public var readBatch = 256
    /// How long an acknowledgement may take before the relay reconnects and re-reads the stream.
    public var ackTimeout: Duration = .seconds(2)
    /// How long a JetStream API call may take.
    public var requestTimeout: Duration = .seconds(3)
    /// How long connecting to one server may take.
    public var connectTimeout: Duration = .seconds(2)
    /// How often the consumer checkpoint is written.
    public var checkpointInterval: Duration = .seconds(1)
    /// After how long behind without progress `kiroku consumers` calls the relay stalled.
    public var stallAfter: Duration = .seconds(60)
    /// The consumer checkpoint's name; `relay:<stream>` when `nil`.
    public var consumerName: String?
    /// Called on the relay's task for each position the stream acknowledged, in order, with
    /// the time its commit was prepared (for metrics: commit-to-acknowledgement lag). Keep it short.
    public var onAcknowledge: (@Sendable (_ position: UInt64, _ committed: Date) -> Void)?

    /// Settings for a relay to the cluster at `servers`.
    public init(servers: [NATSServerURL], stream: String? = nil) {
        self.servers = servers
        self.stream = stream
    }

    /// The stream name used when none is given.
    public static func defaultStreamName(for store: UUID) -> String {
        "kiroku-\(store.uuidString.lowercased())"
    }
}

/// What a relay has done.
public struct RelayStatus: Sendable {
    /// The last position the stream acknowledged (or held when the relay connected).
    public var acknowledged: UInt64 = 0
    /// The last position written to the connection.
    public var published: UInt64 = 0
    /// When the last acknowledgement came.
    public var lastAcknowledgedAt: Date?
    /// How many times acknowledgements moved the position forward.
    public var acknowledgements = 0
    /// How many times the relay reconnected after an error.
    public var retries = 0
    /// The last error it retried after.
    public var lastError: String?
    /// The server it is connected to.
    public var connectedTo: String?
    /// The error it stopped with.
    public var failure: KirokuError?
}
