import ArgumentParser
import KirokuFeed
import Foundation
import KirokuLog
import KirokuProjections
import KirokuSearch

/// `kiroku stats`: counts and sizes, like mdb_stat.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Records, keys, head position, file size, map use, consumers and projections.")

    @Argument(help: "The store directory.") var store: String
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        let stats = try log.statistics()
        let consumers = try await Consumers(log: log).list()
        let catalog = ProjectionCatalog(store: log.path)
        var projections: [[String: Any]] = []
        for name in catalog.names() {
            let active = try catalog.activeCheckpoint(of: name)
            projections.append(["name": name, "active": active.map { $0.version as Any } ?? NSNull(), "versions": catalog.versions(of: name),
                                "lag": active.map { stats.headPosition - min(stats.headPosition, $0.position) as Any } ?? NSNull()])
        }
        let storeId = log.storeId.uuidString.lowercased()
        let replicaOf = try log.replicaSource()?.uuidString.lowercased()
        if output.json {
            Output.json(["storeId": storeId, "replicaOf": replicaOf as Any? ?? NSNull(),
                         "records": stats.headPosition, "keys": stats.keys, "head": stats.headPosition, "fileBytes": stats.fileBytes,
                         "mapBytes": stats.mapBytes, "usedBytes": stats.usedBytes, "freeBytes": stats.freeBytes,
                         "firstPosition": stats.firstPosition, "removedRecords": stats.removedRecords,
                         "removedThrough": stats.removedThrough, "erasedRecords": stats.erasedRecords,
                         "retention": try log.retention().map(\.summary),
                         "consumers": consumers.map { ["name": $0.name, "lag": $0.lagRecords, "status": $0.isStalled ? "stalled" : "ok"] as [String: Any] },
                         "projections": projections])
            return
        }
        func size(_ bytes: Int64) -> String { ByteCountFormatter.string(fromByteCount: bytes, countStyle: .binary) }
        Output.rows([
            ["store id", storeId], ["replica of", replicaOf ?? "none (takes appends)"],
            ["records", stats.removedRecords == 0 ? "\(stats.headPosition)" : "\(stats.headPosition - stats.removedRecords) stored (\(stats.removedRecords) removed by retention and deletions)"],
            ["keys", "\(stats.keys)"], ["head position", "\(stats.headPosition)"],
            ["first position", stats.firstPosition <= 1 ? "\(stats.firstPosition)" : "\(stats.firstPosition)" + (stats.removedThrough > 0 ? " (feeds resume after \(stats.removedThrough) or from the start)" : "")],
            ["erased records", "\(stats.erasedRecords)"],
            ["retention", (try? log.retention().map(\.summary).joined(separator: "; ")).flatMap { $0.isEmpty ? nil : $0 } ?? "none (keeps everything)"],
            ["file size", size(stats.fileBytes)],
            ["map", "\(size(Int64(stats.usedBytes))) used of \(size(Int64(stats.mapBytes))) (\(stats.mapBytes > 0 ? stats.usedBytes * 100 / stats.mapBytes : 0)%)"],
            ["free pages", "\(size(Int64(stats.freeBytes))) (reused by later writes; kiroku backup --compact leaves them out)"],
            ["consumers", consumers.isEmpty ? "none" : consumers.map { "\($0.name) (lag \($0.lagRecords)\($0.isStalled ? ", stalled" : ""))" }.joined(separator: ", ")],
            ["projections", projections.isEmpty ? "none" : projections.map { "\($0["name"]!) (v\($0["active"] ?? "-"), lag \($0["lag"] ?? "-"))" }.joined(separator: ", ")],
        ])
    }
}
