import Foundation
import KirokuLog
import KirokuNATS
import Logging
import ServiceLifecycle

/// Mirrors a relayed stream into a local store, which becomes a read replica of the source:
/// the same records at the same positions, versions, ids and timestamps, byte for byte (each
/// record's checksum is checked against the source's).
///
/// On every start, and after any error, the mirror creates an ephemeral ordered consumer from
/// the replica's own head + 1 (`deliver_policy: by_start_sequence`, `ack_policy: none`, flow
/// control and idle heartbeats), so it never depends on a consumer's redelivery order. It
/// applies whole source commits, each batch in one transaction through
/// ``EventLog/replicate(_:from:)``: a replica never shows part of an atomic multi-key append,
/// and a record is applied once because the replica takes only its head + 1.
///
/// The replica's consumers, projections and search views run as on any store; appends go to
/// the source (the replica refuses them with ``KirokuError/Code/replicaReadOnly``).
public final class Mirror: Service, Sendable {
    /// The replica's log.
    public let log: EventLog
    /// The settings.
    public let options: MirrorOptions
    private let client: NATSClient
    private let logger: Logger
    private let state = Locked(MirrorStatus())

    /// A mirror of the stream `options` names into `log`.
    public init(log: EventLog, options: MirrorOptions, logger: Logger = Logger(label: "kiroku.mirror")) {
        self.log = log
        self.options = options
        self.logger = logger
        client = NATSClient(servers: options.servers, name: "kiroku-mirror", connectTimeout: options.connectTimeout, logger: logger)
    }

    /// What the mirror has done so far.
    public var status: MirrorStatus { state.withLock { $0 } }

    /// Mirrors until cancelled or a graceful shutdown; throws only for what retrying cannot fix
    /// (``KirokuError/Code/replicaDiverged``, ``KirokuError/Code/mirrorGap``, a closed log).
    public func run() async throws {
        try await Reconnecting.serve(recordFailure: { error in state.withLock { $0.failure = error } }) { try await self.loop() }
    }

    /// Waits until the replica's head reaches `position`.
    ///
    /// - Throws: the mirror's error when it stopped; ``KirokuError/Code/natsTimeout`` after `timeout`.
    public func waitUntilApplied(_ position: UInt64, timeout: Duration) async throws {
        try await Reconnecting.waitUntil(timeout: timeout, failure: { status.failure }, timedOut: {
            "The replica reached position \(try log.headPosition()), not \(position), within \(timeout); see the mirror's log for what it retries."
        }) { try log.headPosition() >= position }
    }

    private func loop() async throws {
        let reconnecting = Reconnecting(client: client, logger: logger, name: "Mirror", stream: options.stream,
                                        fatal: [.replicaDiverged, .mirrorGap, .closed, .corruption, .flushFailed, .replicaReadOnly])
        try await reconnecting.run(progress: { [state] in state.withLock { $0.batches } }, retried: { error in
            state.withLock {
                $0.retries += 1
                $0.lastError = "\(error)"
            }
        }, session: session)
    }

    /// One consumer's life: from the replica's head + 1 until an error.
    private func session(_ connection: NATSConnection) async throws {
        let jetStream = JetStream(connection, timeout: options.requestTimeout)
        guard let info = try await jetStream.streamInfo(options.stream) else {
            throw KirokuError(.jetStreamError, "Stream \(options.stream) does not exist (yet); start `kiroku relay` on the source store, or check --stream.")
        }
        guard let source = RecordMessage.store(fromSubjects: info.config.subjects) else {
            throw KirokuError(.replicaDiverged, "Stream \(options.stream) is not a Kiroku store's stream (its subjects are \(info.config.subjects)); give the stream the relay writes (kiroku-<store id> by default).")
        }
        let head = try log.headPosition()
        if let replicaOf = try log.replicaSource(), replicaOf != source {
            throw KirokuError(.replicaDiverged, "This store replicates store \(replicaOf.uuidString.lowercased()), but stream \(options.stream) carries store \(source.uuidString.lowercased()); mirror each source into a store of its own.", path: log.path)
        }
        if head > 0, try log.replicaSource() == nil {
            throw KirokuError(.replicaDiverged, "This store has records of its own (head \(head)), so it cannot become a replica; mirror into a new, empty store.", path: log.path)
        }
        if info.state.messages > 0, info.state.firstSeq > head + 1 {
            throw KirokuError(.mirrorGap, "Stream \(options.stream) starts at position \(info.state.firstSeq), but the replica needs \(head + 1) next: positions \(head + 1)…\(info.state.firstSeq - 1) are gone from the stream (its limits or a purge removed them). Mirror into a new store from a stream that keeps the whole log, or restore the replica from a newer copy.", path: log.path, position: head + 1)
        }
        let deliver = connection.newInbox()
        let deliveries = try connection.subscribe(deliver)
        _ = try await jetStream.createConsumer(options.stream, JetStream.ConsumerConfig(
            deliverSubject: deliver, startSequence: head + 1, idleHeartbeat: options.idleHeartbeat,
            inactiveThreshold: .seconds(30)))
        state.withLock {
            $0.connectedTo = connection.server.description
            $0.source = source
        }
        logger.info("Mirroring", metadata: ["stream": "\(options.stream)", "from": "\(head + 1)", "server": "\(connection.server)"])

        let sourceText = RecordMessage.storeText(source)
        var expected = head + 1
        var pending: [RecordMessage.Decoded] = []
        // How many of `pending` form whole source commits.
        var whole = 0
        while true {
            try Task.checkCancellation()
            for message in try await deliveries.next(upTo: options.maxBatch, timeout: options.idleHeartbeat * 3) {
                if let status = message.status {
                    try answer(status: status, message, connection: connection, expected: expected)
                    continue
                }
                let decoded = try RecordMessage.decode(headers: message.headers, payload: message.data, subject: message.subject,
                                                       expectedStore: (source, sourceText))
                guard decoded.store == source else {
                    throw KirokuError(.replicaDiverged, "Stream \(options.stream) holds a record of store \(decoded.store.uuidString.lowercased()) at position \(decoded.record.position), not of \(source.uuidString.lowercased()); only one store's relay may write to a stream.", path: log.path, position: decoded.record.position)
                }
                guard decoded.record.position == expected else {
                    throw KirokuError(.jetStreamError, "The consumer of stream \(options.stream) delivered position \(decoded.record.position) where \(expected) was next; creating a new one from the replica's head.")
                }
                expected += 1
                pending.append(decoded)
                if decoded.commitEnd { whole = pending.count }
            }
            // Apply the whole commits received: everything that arrived in one burst (a
            // status message after a commit's last record included) goes in one transaction.
            if whole > 0 {
                try await apply(pending[0..<whole], source: source)
                pending.removeFirst(whole)
                whole = 0
            }
        }
    }

    /// Answers a status message of the consumer: flow control and stalled heartbeats want a
    /// reply; a heartbeat that reports deliveries the mirror never got, or any other status,
    /// ends the session (the next one starts a consumer from the replica's head).
    private func answer(status: Int, _ message: NATSMessage, connection: NATSConnection, expected: UInt64) throws {
        logger.trace("Consumer status", metadata: ["status": "\(status)", "description": "\(message.headers?.statusDescription ?? "")",
                                                  "expected": "\(expected)"])
        guard status == 100 else {
            throw KirokuError(.jetStreamError, "The consumer of stream \(options.stream) sent status \(status) \(message.headers?.statusDescription ?? ""); creating a new one from the replica's head.")
        }
        if let reply = message.replyTo, !reply.isEmpty { try connection.publish(reply) }
        if let stalled = message.headers?["Nats-Consumer-Stalled"] { try connection.publish(stalled) }
        if let last = message.headers?["Nats-Last-Stream"].flatMap(UInt64.init), last >= expected {
            throw KirokuError(.jetStreamError, "The consumer of stream \(options.stream) delivered up to \(last) but the mirror received only up to \(expected - 1); creating a new one from the replica's head.")
        }
    }

    private func apply(_ batch: ArraySlice<RecordMessage.Decoded>, source: UUID) async throws {
        do {
            try await log.replicate(batch.map(\.record), from: source)
        } catch let error as KirokuError where error.code == .replicaDiverged {
            // Another mirror (in another process) applied these first: start again from the
            // replica's head. Anything else that does not fit is a real divergence.
            if try log.headPosition() >= batch.first!.record.position {
                throw KirokuError(.jetStreamError, "The replica's head moved past \(batch.first!.record.position) while this mirror held it (another mirror writes to this store); starting again from the head.")
            }
            throw error
        }
        let stored = try log.recordChecksums(from: batch.first!.record.position, count: batch.count)
        for (decoded, checksum) in zip(batch, stored + Array(repeating: 0, count: max(0, batch.count - stored.count))) where checksum != decoded.checksum {
            throw KirokuError(.replicaDiverged, "The replica stored position \(decoded.record.position) with checksum \(RecordMessage.hex16(checksum)), the source with \(RecordMessage.hex16(decoded.checksum)): the bytes differ. Check that the source and the replica run the same Kiroku version, and mirror into a new store.", path: log.path, position: decoded.record.position)
        }
        let last = batch.last!.record.position
        let now = Date()
        state.withLock {
            $0.applied = last
            $0.lastAppliedAt = now
            $0.batches += 1
        }
    }
}

/// The mirror's settings.
public struct MirrorOptions: Sendable {
    /// The NATS servers to start from (the cluster announces the others).
    public var servers: [NATSServerURL]
    /// The stream to mirror (the relay's, `kiroku-<source store id>` by default).
    public var stream: String
    /// The consumer's idle heartbeat; three missed ones make the mirror start a new consumer.
    public var idleHeartbeat: Duration = .seconds(1)
    /// How many records one replica transaction takes at most (whole commits always).
    public var maxBatch = 4096
    /// How long a JetStream API call may take.
    public var requestTimeout: Duration = .seconds(3)
    /// How long connecting to one server may take.
    public var connectTimeout: Duration = .seconds(2)

    /// Settings for mirroring `stream` from the cluster at `servers`.
    public init(servers: [NATSServerURL], stream: String) {
        self.servers = servers
        self.stream = stream
    }
}

/// What a mirror has done.
public struct MirrorStatus: Sendable {
    /// The last position applied to the replica by this mirror.
    public var applied: UInt64 = 0
    /// When the last batch was applied.
    public var lastAppliedAt: Date?
    /// How many replica transactions it committed.
    public var batches = 0
    /// How many times it started over after an error.
    public var retries = 0
    /// The last error it retried after.
    public var lastError: String?
    /// The server it is connected to.
    public var connectedTo: String?
    /// The store the stream carries.
    public var source: UUID?
    /// The error it stopped with.
    public var failure: KirokuError?
}
