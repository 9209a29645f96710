import Foundation
import KirokuLog
import KirokuNATS
import KirokuTestSupport
import Testing

/// `kiroku relay` and `kiroku mirror` refuse bad options with a message that says what to give.
@Suite(.timeLimit(.minutes(3))) struct ScaleOutCLITests {
    @Test func badOptionsAreRefused() async throws {
        let directory = TemporaryDirectory("kiroku-scaleout-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        #expect(try await kiroku(["append", store, "--key", "k", "--type", "T", "--data", "{}"]).status == 0)
        for (arguments, message) in [
            (["relay", store, "--nats", "nats://host:notaport"], "not a NATS server address"),
            (["relay", store, "--replicas", "7"], "--replicas 7"),
            (["relay", store, "--window", "0"], "--window"),
            (["relay", store, "--duplicate-window", "0"], "--duplicate-window"),
            (["relay", store, "--log-level", "loud"], "--log-level loud"),
            (["mirror", directory.sub("replica"), "--stream", "s", "--nats", ""], "No NATS server given"),
        ] {
            let result = try await kiroku(arguments)
            #expect(result.status == 1 && result.err.contains(message), "\(arguments): \(result)")
        }
        let cluster = try await NATSCluster(size: 1)
        defer { cluster.stop() }
        let missing = try await kiroku(["mirror", directory.sub("replica"), "--stream", "no-such-stream", "--nats", cluster.urls, "--exit-when-caught-up"])
        #expect(missing.status == 2 && missing.err.contains("Stream no-such-stream does not exist"), "\(missing)")
        // With a one-server cluster and one replica, relay and mirror finish and say so.
        let relayed = try await kiroku(["relay", store, "--nats", cluster.urls, "--replicas", "1", "--exit-when-caught-up", "--json"])
        #expect(relayed.status == 0 && relayed.out.contains("\"acknowledged\":1"), "\(relayed)")
        let stats = try JSONSerialization.jsonObject(with: Data(try await kiroku(["stats", store, "--json"]).out.utf8)) as? [String: Any]
        let storeId = try #require(stats?["storeId"] as? String)
        #expect(stats?["replicaOf"] is NSNull)
        let mirrored = try await kiroku(["mirror", directory.sub("replica"), "--stream", "kiroku-\(storeId)", "--nats", cluster.urls, "--exit-when-caught-up"])
        #expect(mirrored.status == 0 && mirrored.out.contains("Replica at position 1"), "\(mirrored)")
        let replicaStats = try JSONSerialization.jsonObject(with: Data(try await kiroku(["stats", directory.sub("replica"), "--json"]).out.utf8)) as? [String: Any]
        #expect(replicaStats?["replicaOf"] as? String == storeId)
        let refused = try await kiroku(["append", directory.sub("replica"), "--key", "k", "--type", "T", "--data", "{}"])
        #expect(refused.status == 1 && refused.err.contains("read replica"), "\(refused)")
    }
}
