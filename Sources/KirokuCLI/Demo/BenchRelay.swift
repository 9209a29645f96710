import Foundation
import KirokuLog
import KirokuNATS
import KirokuScaleOut

/// `kiroku bench relay`: the relay beside a raw publisher on the same cluster, its lag at a
/// steady rate, the mirror's throughput, and recovery after the stream leader is killed.
struct RelayBench {
    let log: EventLog
    let records: Int
    let payload: Int
    let window: Int
    let rate: Int
    let duration: Double
    /// Rounds of the raw publisher and the relay, alternating.
    var rounds = 3
    let servers: [NATSServerURL]
    /// The cluster this benchmark started (it can kill a leader), or `nil` for `--nats`.
    let cluster: LocalNATSCluster?

    struct Results {
        var fields: [String: Any] = [:]
        var lines: [String] = []
    }

    func run() async throws -> Results {
        var results = Results()
        let replicas = cluster?.nodes.count ?? 3
        try await fill()
        let head = try log.headPosition()
        results.fields["records"] = head
        results.fields["payloadBytes"] = payload
        results.fields["replicas"] = replicas
        results.lines.append("\(head) records of \(payload) B to an R\(replicas) stream, window \(window):")

        // 1 and 2. The raw publisher and the relay, alternating for `rounds` rounds, each on a
        // new stream (the one before deleted), so neither always runs on the fuller cluster.
        var frames: [[UInt8]] = []
        frames.reserveCapacity(Int(head))
        let rawSubject = "rawbench.\(UUID().uuidString.prefix(8).lowercased())"
        var position: UInt64 = 1
        while position <= head {
            for (record, checksum) in try log.readAllWithChecksums(from: position, limit: 1000) {
                let headers = RecordMessage.headerBlock(record, store: RecordMessage.storeText(log.storeId), checksum: checksum, commitEnd: false)
                var one = NATSFrames()
                one.publish(rawSubject + "." + KeyEncoding.encode(record.key), replyTo: "_RAWACK.\(record.position)",
                            headerBlock: headers, payload: record.payload)
                frames.append(one.bytes)
                position = record.position + 1
            }
        }
        let built = frames
        frames = []
        var rawRates: [Double] = []
        var relayRates: [Double] = []
        var rawErrors = 0
        var relayStream = ""
        for round in 0..<rounds {
            let rawStream = "bench-raw-\(round)-\(UUID().uuidString.prefix(8).lowercased())"
            try await withJetStream { jetStream in
                _ = try await jetStream.createStream(JetStream.StreamConfig(name: rawStream, subjects: [rawSubject + ".>"], numReplicas: replicas))
            }
            let raw = try RawPublisher(server: servers[0])
            let window = self.window
            let rawRun = try await Task.detached { try raw.publish(built, window: window) }.value
            rawRates.append(Double(head) / rawRun.seconds)
            rawErrors += rawRun.errors
            try await withJetStream { try await $0.deleteStream(rawStream) }
            if !relayStream.isEmpty { try await withJetStream { [relayStream] in try await $0.deleteStream(relayStream) } }

            relayStream = "bench-relay-\(round)-\(UUID().uuidString.prefix(8).lowercased())"
            // Created before timing, as the raw publisher's is: a new R3 stream elects its
            // leader first, which is not the relay's work.
            try await withJetStream { [relayStream, store = log.storeId] jetStream in
                _ = try await jetStream.createStream(JetStream.StreamConfig(
                    name: relayStream, subjects: [RecordMessage.subjects(store: store)], numReplicas: replicas, duplicateWindow: .seconds(120)))
            }
            var options = RelayOptions(servers: servers, stream: relayStream)
            options.replicas = replicas
            options.window = window
            let relay = Relay(log: log, options: options)
            let started = ContinuousClock.now
            let relaying = Task { try await relay.run() }
            try await relay.waitUntilAcknowledged(head, timeout: .seconds(600))
            relayRates.append(Double(head) / (ContinuousClock.now - started).seconds)
            relaying.cancel()
            _ = try? await relaying.value
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let rawRate = median(rawRates)
        let relayRate = median(relayRates)
        results.fields["rawPerSecond"] = rawRate
        results.fields["rawErrors"] = rawErrors
        results.fields["relayPerSecond"] = relayRate
        results.fields["relayToRaw"] = relayRate / rawRate
        results.fields["rounds"] = rounds
        func list(_ values: [Double]) -> String { values.map { "\(Int($0 / 1000)) k" }.joined(separator: ", ") }
        results.lines.append("  raw pipelined publisher  \(Int(rawRate)) records/s (median of \(list(rawRates)))\(rawErrors > 0 ? " (\(rawErrors) errors)" : "")")
        results.lines.append("  relay                    \(Int(relayRate)) records/s (median of \(list(relayRates))) = \(String(format: "%.2f", relayRate / rawRate))× the raw publisher (target ≥ 0.9)")

        // 3. The mirror: the relayed stream into an empty replica.
        let replicaPath = log.path + "-replica"
        defer { try? FileManager.default.removeItem(atPath: replicaPath) }
        do {
            let replica = try EventLog(path: replicaPath)
            defer { replica.close() }
            let mirror = Mirror(log: replica, options: MirrorOptions(servers: servers, stream: relayStream))
            let mirrorStart = ContinuousClock.now
            let mirroring = Task { try await mirror.run() }
            try await mirror.waitUntilApplied(head, timeout: .seconds(600))
            let mirrorSeconds = (ContinuousClock.now - mirrorStart).seconds
            mirroring.cancel()
            _ = try? await mirroring.value
            let mirrorRate = Double(head) / mirrorSeconds
            results.fields["mirrorPerSecond"] = mirrorRate
            results.lines.append("  mirror                   \(Int(mirrorRate)) records/s into a replica (target ≥ 20,000)")
        }

        // 4. Lag from commit to PubAck at a steady rate.
        let lag = Latencies()
        var lagOptions = RelayOptions(servers: servers, stream: relayStream)
        lagOptions.window = window
        lagOptions.onAcknowledge = { position, committed in
            if position > head { lag.record(since: committed) }
        }
        let lagRelay = Relay(log: log, options: lagOptions)
        let lagRelaying = Task { try await lagRelay.run() }
        try await lagRelay.waitUntilAcknowledged(head, timeout: .seconds(60))
        let interval = Duration.seconds(1) / rate
        let steps = Int(duration * Double(rate))
        let clock = ContinuousClock()
        var next = clock.now
        let body = Data(repeating: UInt8(ascii: "x"), count: payload)
        for step in 0..<steps {
            try await log.append(to: "lag-\(step % 100)", EventData(type: "Lag", payload: body))
            next += interval
            try await clock.sleep(until: next)
        }
        try await lagRelay.waitUntilAcknowledged(try log.headPosition(), timeout: .seconds(60))
        lagRelaying.cancel()
        _ = try? await lagRelaying.value
        let summary = lag.summary()
        results.fields["lagMicros"] = summary
        results.fields["lagRate"] = rate
        results.lines.append("  lag at \(rate)/s, commit to PubAck: \(lag.line())")

        // 5. Recovery after the stream leader is SIGKILLed mid-relay (a cluster of our own only).
        if let cluster {
            try await recovery(cluster, stream: relayStream, into: &results)
        }
        return results
    }

    /// Relays a backlog, kills the stream's leader, and measures how long acks stop.
    private func recovery(_ cluster: LocalNATSCluster, stream: String, into results: inout Results) async throws {
        let before = try log.headPosition()
        let body = Data(repeating: UInt8(ascii: "y"), count: payload)
        var written = 0
        while written < records {
            let size = min(1000, records - written)
            try await log.append((0..<size / 10).map { AppendGroup(key: "recovery-\($0)", events: Array(repeating: EventData(type: "Backlog", payload: body), count: 10)) })
            written += size / 10 * 10
            if size < 10 { break }
        }
        let head = try log.headPosition()
        let lastAck = Locked<ContinuousClock.Instant?>(nil)
        let gap = Locked<Duration?>(nil)
        let killedAt = Locked<ContinuousClock.Instant?>(nil)
        var options = RelayOptions(servers: cluster.servers, stream: stream)
        options.window = window
        // The recovery time: the longest pause between two acknowledgements after the kill
        // (acks of publishes the old leader had already taken may still arrive right after it).
        options.onAcknowledge = { _, _ in
            let now = ContinuousClock.now
            let previous = lastAck.withLock { last -> ContinuousClock.Instant? in
                defer { last = now }
                return last
            }
            if let killed = killedAt.withLock({ $0 }), let previous, now > killed {
                let pause = now - max(previous, killed)
                gap.withLock { $0 = max($0 ?? .zero, pause) }
            }
        }
        let relay = Relay(log: log, options: options)
        let relaying = Task { try await relay.run() }
        defer { relaying.cancel() }
        try await relay.waitUntilAcknowledged(before + (head - before) / 3, timeout: .seconds(120))
        let leader = try await withJetStream { try await $0.streamInfo(stream)?.cluster?.leader }
        guard let leader, let index = cluster.index(ofServer: leader) else { return }
        killedAt.withLock { $0 = ContinuousClock.now }
        cluster.kill(index)
        try await relay.waitUntilAcknowledged(head, timeout: .seconds(120))
        try await cluster.restart(index)
        let seconds = gap.withLock { $0 }?.seconds ?? 0
        results.fields["recoverySeconds"] = seconds
        results.fields["recoveryRetries"] = relay.status.retries
        results.lines.append("  recovery after the stream leader was SIGKILLed: acks paused for \(String(format: "%.1f", seconds)) s at most (\(relay.status.retries) reconnects), nothing lost or duplicated")
    }

    private func fill() async throws {
        let body = Data(repeating: UInt8(ascii: "r"), count: payload)
        var written = 0
        var round = 0
        while written < records {
            let size = min(1000, records - written)
            let groups = stride(from: 0, to: size, by: 10).map { offset in
                AppendGroup(key: "bench-\((round * 100 + offset / 10) % 1000)", events: Array(repeating: EventData(type: "Bench", payload: body), count: min(10, size - offset)))
            }
            try await log.append(groups)
            written += size
            round += 1
        }
    }

    private func withJetStream<T: Sendable>(_ body: (JetStream) async throws -> T) async throws -> T {
        let connection = try await NATSClient(servers: servers).connect()
        defer { connection.close() }
        return try await body(JetStream(connection))
    }
}
