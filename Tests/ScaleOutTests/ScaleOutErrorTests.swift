import Foundation
import KirokuLog
@testable import KirokuNATS
import KirokuScaleOut
import KirokuTestSupport
import NIOCore
import Testing

/// Every scale-out error a user can see, made happen for real (docs/ERRORS.md lists them).
@Suite(.serialized, .timeLimit(.minutes(3))) struct ScaleOutErrorTests {
    @Test func natsErrors() async throws {
        let cluster = try await NATSCluster(size: 1)
        defer { cluster.stop() }
        // Nothing listens: unreachable, naming the server.
        let closedPort = NATSServerURL(host: "127.0.0.1", port: cluster.nodes[0].clientPort + 1)
        let unreachable = await expectError(.natsUnreachable) { _ = try await NATSClient(servers: [closedPort]).connect() }
        #expect(unreachable?.message.contains("\(closedPort)") == true)

        // A generous handshake timeout: the servers share two cores with the other tests.
        let connection = try await NATSClient(servers: cluster.servers, connectTimeout: .seconds(15)).connect()
        defer { connection.close() }
        #expect(connection.info.jetstream == true && connection.info.maxPayload == 1_048_576)
        // A request nobody answers: status 503 at once, not a timeout.
        await expectError(.natsNoResponders) { _ = try await connection.request("nobody.listens.here", timeout: .seconds(30)) }
        // A subscription with nothing to deliver times out.
        let quiet = try connection.subscribe("quiet.subject")
        await expectError(.natsTimeout) { _ = try await quiet.next(timeout: .milliseconds(200)) }
        // Request/reply and headers through a real server.
        let echo = try connection.subscribe("echo")
        let replying = Task {
            let request = try await echo.next(timeout: .seconds(10))
            var headers = NATSHeaders()
            headers.append("Echo", request.headers?["Ask"] ?? "none")
            try connection.publish(request.replyTo!, payload: Array(request.payload.readableBytesView), headers: headers)
        }
        var ask = NATSHeaders()
        ask.append("Ask", "value with spaces")
        let reply = try await connection.request("echo", payload: Array("ping".utf8), headers: ask)
        #expect(reply.headers?["Echo"] == "value with spaces" && String(buffer: reply.payload) == "ping")
        try await replying.value
        // JetStream refuses what it cannot do: three replicas on one server.
        await expectError(.jetStreamError) {
            _ = try await JetStream(connection).createStream(JetStream.StreamConfig(name: "r3", subjects: ["r3.>"], numReplicas: 3))
        }
        // The server dies while a wait is on: the wait fails at once with connection-lost.
        let waiting = try connection.subscribe("waiting")
        let killer = Task {
            try await Task.sleep(for: .milliseconds(100))
            cluster.kill(0)
        }
        await expectError(.natsConnectionLost) { _ = try await waiting.next(timeout: .seconds(60)) }
        try await killer.value
        await expectError(.natsConnectionLost) { try connection.publish("after.close") }
        // Bytes that are not the protocol.
        var garbage = ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\n")
        #expect(throws: KirokuError.self) { _ = try ServerOpDecoder.parse(&garbage) }
        do {
            var bad = ByteBuffer(string: "MSG a b\r\n")
            _ = try ServerOpDecoder.parse(&bad)
            Issue.record("a malformed MSG parsed")
        } catch let error as KirokuError {
            #expect(error.code == .natsProtocolError)
        }
    }

    @Test func relayDivergedRecordTooLargeAndMirrorGap() async throws {
        let cluster = try await NATSCluster(size: 1, maxPayload: 64 * 1024)
        defer { cluster.stop() }
        let directory = TemporaryDirectory("kiroku-scaleout-errors")
        defer { directory.remove() }
        var options = RelayOptions(servers: cluster.servers, stream: "shared")
        options.replicas = 1

        // A store relayed to stream "shared", then restored from an older copy: the stream
        // ends past the copy's head, and the relay refuses to mix the histories.
        let original = directory.sub("original")
        do {
            let log = try EventLog(path: original)
            for n in 0..<10 { try await log.append(to: "k\(n % 3)", event("T", "\(n)")) }
            log.close()
        }
        try FileManager.default.copyItem(atPath: original, toPath: directory.sub("older-copy"))
        do {
            let log = try EventLog(path: original)
            defer { log.close() }
            for n in 0..<5 { try await log.append(to: "k\(n)", event("T", "later \(n)")) }
            let relay = Relay(log: log, options: options)
            let running = Task { try await relay.run() }
            try await relay.waitUntilAcknowledged(15, timeout: .seconds(30))
            running.cancel()
            _ = try? await running.value
        }
        do {
            let older = try EventLog(path: directory.sub("older-copy"))
            defer { older.close() }
            let error = await expectError(.relayDiverged) { try await Relay(log: older, options: options).run() }
            #expect(error?.message.contains("ends at position 15") == true, "\(String(describing: error))")
        }
        // Another store's relay pointed at the same stream.
        do {
            let other = try EventLog(path: directory.sub("other"))
            defer { other.close() }
            try await other.append(to: "x", event())
            await expectError(.relayDiverged) { try await Relay(log: other, options: options).run() }
        }
        // A record too large for the server's max_payload (64 KiB here): the relay stops at it.
        do {
            let big = try EventLog(path: directory.sub("big"))
            defer { big.close() }
            try await big.append(to: "small", event())
            try await big.append(to: "large", EventData(type: "Blob", payload: Data(repeating: 7, count: 100_000)))
            var bigOptions = RelayOptions(servers: cluster.servers, stream: "big")
            bigOptions.replicas = 1
            let relay = Relay(log: big, options: bigOptions)
            let error = await expectError(.relayRecordTooLarge) { try await relay.run() }
            #expect(error?.position == 2 && relay.status.acknowledged == 1)
        }
        // A stream that lost its beginning: a new replica cannot start from it.
        // A generous handshake timeout: the servers share two cores with the other tests.
        let connection = try await NATSClient(servers: cluster.servers, connectTimeout: .seconds(15)).connect()
        defer { connection.close() }
        let purged = try await connection.request("$JS.API.STREAM.PURGE.shared", payload: Array("{\"seq\":5}".utf8))
        #expect(String(buffer: purged.payload).contains("\"success\":true"), "\(String(buffer: purged.payload))")
        let replica = try EventLog(path: directory.sub("replica"))
        defer { replica.close() }
        await expectError(.mirrorGap) { try await Mirror(log: replica, options: MirrorOptions(servers: cluster.servers, stream: "shared")).run() }
        #expect(try replica.headPosition() == 0)
        // A store with records of its own cannot become a replica.
        let own = try EventLog(path: directory.sub("own"))
        defer { own.close() }
        try await own.append(to: "mine", event())
        await expectError(.replicaDiverged) { try await Mirror(log: own, options: MirrorOptions(servers: cluster.servers, stream: "big")).run() }
    }

    /// `replicate` takes records only at head + 1, with versions and ids that fit, from one source.
    @Test func replicateRefusesRecordsThatDoNotContinueTheReplica() async throws {
        try await withLog { replica, _ in
            let source = UUID()
            let now = Date(timeIntervalSince1970: 1_700_000_000.123456)
            func record(_ position: UInt64, _ key: String, _ version: UInt64, id: String? = nil) -> Record {
                Record(position: position, key: key, version: version, timestamp: now, type: "T", payload: Data("p\(position)".utf8), id: id)
            }
            try await replica.replicate([record(1, "a", 1, id: "i1"), record(2, "b", 1), record(3, "a", 2)], from: source)
            #expect(try replica.replicaSource() == source)
            let stored = try #require(try replica.record(at: 3))
            #expect(stored.version == 2 && stored.timestamp == now)
            await expectError(.replicaDiverged) { try await replica.replicate([record(5, "c", 1)], from: source) } // a gap
            await expectError(.replicaDiverged) { try await replica.replicate([record(4, "a", 4)], from: source) } // a version that does not follow
            await expectError(.replicaDiverged) { try await replica.replicate([record(4, "c", 1, id: "i1")], from: source) } // an id held already
            await expectError(.replicaDiverged) { try await replica.replicate([record(4, "c", 1)], from: UUID()) } // another source
            await expectError(.replicaReadOnly) { try await replica.append(to: "a", event()) }
            #expect(try replica.headPosition() == 3)
            try await replica.replicate([record(4, "c", 1), record(5, "a", 3)], from: source)
            #expect(try replica.read(key: "a").map(\.position) == [1, 3, 5])
            #expect(try replica.verify().isClean)
        }
    }
}
