import Foundation
import KirokuLog
import KirokuNATS
import KirokuScaleOut
import KirokuTestSupport
import Testing

/// The relay and the mirror as real processes, SIGKILLed, racing, and across server deaths.
@Suite(.serialized, .timeLimit(.minutes(6))) struct FailureTests {
    /// 100,000 records relayed while the stream's leader, then a follower, are SIGKILLed:
    /// the stream holds positions 1…N exactly once, in order, every header right.
    @Test func relayThroughALeaderAndAFollowerKill() async throws {
        let cluster = try await NATSCluster()
        defer { cluster.stop() }
        let directory = TemporaryDirectory("kiroku-relay-kills")
        defer { directory.remove() }
        let source = directory.sub("source")
        let count = 100_000
        try await fillStore(source, count: count)
        let stream = "relay-kills"
        let relay = try launchKiroku(["relay", source, "--nats", cluster.urls, "--stream", stream], logFile: directory.sub("relay.log"))
        defer { killHard(relay) }

        #expect(try await waitForStream(cluster.servers, stream, atLeast: UInt64(count / 4)))
        let leader = try #require(try await streamLeader(cluster.servers, stream))
        let leaderIndex = try #require(cluster.index(ofServer: leader))
        cluster.kill(leaderIndex)
        #expect(try await waitForStream(cluster.servers, stream, atLeast: UInt64(count / 2)), "no progress after the leader \(leader) died")
        try await cluster.restart(leaderIndex)
        let newLeader = try #require(try await streamLeader(cluster.servers, stream))
        let follower = try #require(cluster.nodes.indices.first { cluster.nodes[$0].name != newLeader })
        cluster.kill(follower)
        #expect(try await waitForStream(cluster.servers, stream, atLeast: UInt64(count)), "the relay did not finish with a follower down")
        try await cluster.restart(follower)
        try await expectStreamHoldsTheLog(cluster.servers, stream: stream, source: source, replica: directory.sub("replica"))
    }

    /// A relay SIGKILLed mid-stream and restarted at once (inside a 2 s duplicate window),
    /// then killed again and restarted after the window has passed: nothing is duplicated.
    @Test func relayKilledInsideAndBeyondTheDuplicateWindow() async throws {
        let cluster = try await NATSCluster()
        defer { cluster.stop() }
        let directory = TemporaryDirectory("kiroku-relay-sigkill")
        defer { directory.remove() }
        let source = directory.sub("source")
        let count = 40_000
        try await fillStore(source, count: count)
        let stream = "relay-sigkill"
        let arguments = ["relay", source, "--nats", cluster.urls, "--stream", stream, "--duplicate-window", "2"]
        let logFile = directory.sub("relay.log")

        var relay = try launchKiroku(arguments, logFile: logFile)
        #expect(try await waitForStream(cluster.servers, stream, atLeast: 5_000))
        killHard(relay)
        relay = try launchKiroku(arguments, logFile: logFile)
        #expect(try await waitForStream(cluster.servers, stream, atLeast: 20_000))
        killHard(relay)
        try await Task.sleep(for: .seconds(3))
        relay = try launchKiroku(arguments, logFile: logFile)
        defer { killHard(relay) }
        #expect(try await waitForStream(cluster.servers, stream, atLeast: UInt64(count)))
        try await expectStreamHoldsTheLog(cluster.servers, stream: stream, source: source, replica: directory.sub("replica"))
    }

    /// Two relays of one store at once (a zombie and its replacement): nothing is duplicated.
    @Test func twoRelaysAtOnceDuplicateNothing() async throws {
        let cluster = try await NATSCluster()
        defer { cluster.stop() }
        let directory = TemporaryDirectory("kiroku-two-relays")
        defer { directory.remove() }
        let source = directory.sub("source")
        let count = 30_000
        try await fillStore(source, count: count)
        let stream = "two-relays"
        let arguments = ["relay", source, "--nats", cluster.urls, "--stream", stream, "--window", "64"]
        let first = try launchKiroku(arguments, logFile: directory.sub("relay-1.log"))
        defer { killHard(first) }
        let second = try launchKiroku(arguments, logFile: directory.sub("relay-2.log"))
        defer { killHard(second) }
        #expect(try await waitForStream(cluster.servers, stream, atLeast: UInt64(count)))
        try await Task.sleep(for: .milliseconds(500))
        try await expectStreamHoldsTheLog(cluster.servers, stream: stream, source: source, replica: directory.sub("replica"))
    }

    /// A mirror process SIGKILLed mid-stream and started again ends equal to the source,
    /// record for record (`kiroku read --json` of both), and a search view on the replica
    /// answers like the source's.
    @Test func mirrorKilledAndRestartedEndsEqual() async throws {
        let cluster = try await NATSCluster()
        defer { cluster.stop() }
        let directory = TemporaryDirectory("kiroku-mirror-kill")
        defer { directory.remove() }
        let source = directory.sub("source")
        let replica = directory.sub("replica")
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/examples").standardized.path
        let imported = try await kiroku(["import", source, examples + "/activities.jsonl"])
        #expect(imported.status == 0, "\(imported.err)")
        do {
            let log = try EventLog(path: source)
            defer { log.close() }
            for round in 0..<30 {
                try await log.append((0..<1000).map { AppendGroup(key: "bulk-\($0)", events: [event("Bulk", "round \(round)")]) })
            }
        }
        let stream = "mirror-kill"
        let relay = try launchKiroku(["relay", source, "--nats", cluster.urls, "--stream", stream], logFile: directory.sub("relay.log"))
        defer { killHard(relay) }
        let mirrorArguments = ["mirror", replica, "--nats", cluster.urls, "--stream", stream]
        let mirror = try launchKiroku(mirrorArguments, logFile: directory.sub("mirror.log"))
        let head: UInt64 = 2000 + 30_000
        #expect(try await eventually(timeout: .seconds(60)) {
            guard FileManager.default.fileExists(atPath: replica + "/data.mdb") else { return false }
            let status = try await kiroku(["stats", replica, "--json"])
            guard let object = try? JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [String: Any] else { return false }
            return (object["head"] as? Int ?? 0) >= 8_000
        })
        killHard(mirror)
        #expect(try await waitForStream(cluster.servers, stream, atLeast: head))
        let finished = try await kiroku(mirrorArguments + ["--exit-when-caught-up"])
        #expect(finished.status == 0, "\(finished.err)")
        let left = try await kiroku(["read", source, "--json", "--limit", "100000"])
        let right = try await kiroku(["read", replica, "--json", "--limit", "100000"])
        #expect(left.status == 0 && right.status == 0)
        #expect(left.out.split(separator: "\n").count == Int(head))
        #expect(left.out == right.out)

        // A search view on the replica answers like the source's.
        for store in [source, replica] {
            let created = try await kiroku(["view", "create", store, "activities", "--mapping", examples + "/activities-mapping.json"])
            #expect(created.status == 0, "\(created.err)")
        }
        for query in ["見積 status:won", "renewal amount:>=300000", "\"定例会議\" owner:alice"] {
            let a = try await kiroku(["search", source, "activities", query, "--limit", "50", "--facet", "owner", "--json"])
            let b = try await kiroku(["search", replica, "activities", query, "--limit", "50", "--facet", "owner", "--json"])
            #expect(a.status == 0 && a.out == b.out && !a.out.isEmpty, "\(query): \(a.err) \(b.err)")
        }
    }

    /// Two mirror processes into one replica (an operator's mistake): both finish, the
    /// replica equals the source, and neither stops with an error.
    @Test func twoMirrorsIntoOneReplicaBothFinish() async throws {
        let cluster = try await NATSCluster()
        defer { cluster.stop() }
        let directory = TemporaryDirectory("kiroku-two-mirrors")
        defer { directory.remove() }
        let source = directory.sub("source")
        try await fillStore(source, count: 20_000)
        let stream = "two-mirrors"
        let relayed = try await kiroku(["relay", source, "--nats", cluster.urls, "--stream", stream, "--exit-when-caught-up"])
        #expect(relayed.status == 0, "\(relayed.err)")
        let replica = directory.sub("replica")
        let arguments = ["mirror", replica, "--nats", cluster.urls, "--stream", stream, "--exit-when-caught-up"]
        async let first = kiroku(arguments)
        async let second = kiroku(arguments)
        let (a, b) = try await (first, second)
        #expect(a.status == 0 && b.status == 0, "\(a.err)\n\(b.err)")
        let left = try EventLog(path: source)
        defer { left.close() }
        let right = try EventLog(path: replica)
        defer { right.close() }
        try expectEqualLogs(left, right)
    }
}
