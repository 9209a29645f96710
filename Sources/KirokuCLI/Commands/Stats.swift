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
        let log = try Store.open(store)
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
        if output.json {
            Output.json(["records": stats.headPosition, "keys": stats.keys, "head": stats.headPosition, "fileBytes": stats.fileBytes,
                         "mapBytes": stats.mapBytes, "usedBytes": stats.usedBytes,
                         "consumers": consumers.map { ["name": $0.name, "lag": $0.lagRecords, "status": $0.isStalled ? "stalled" : "ok"] as [String: Any] },
                         "projections": projections])
            return
        }
        func size(_ bytes: Int64) -> String { ByteCountFormatter.string(fromByteCount: bytes, countStyle: .binary) }
        Output.rows([
            ["records", "\(stats.headPosition)"], ["keys", "\(stats.keys)"], ["head position", "\(stats.headPosition)"],
            ["file size", size(stats.fileBytes)],
            ["map", "\(size(Int64(stats.usedBytes))) used of \(size(Int64(stats.mapBytes))) (\(stats.mapBytes > 0 ? stats.usedBytes * 100 / stats.mapBytes : 0)%)"],
            ["consumers", consumers.isEmpty ? "none" : consumers.map { "\($0.name) (lag \($0.lagRecords)\($0.isStalled ? ", stalled" : ""))" }.joined(separator: ", ")],
            ["projections", projections.isEmpty ? "none" : projections.map { "\($0["name"]!) (v\($0["active"] ?? "-"), lag \($0["lag"] ?? "-"))" }.joined(separator: ", ")],
        ])
    }
}

/// `kiroku verify`: the full integrity check.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the log (checksums, gaps, key chains, indexes, ids) and every projection's checkpoint.",
        discussion: "Exit 0 when clean; 3 with the position of every problem.")

    @Argument(help: "The store directory.") var store: String
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try Store.open(store)
        defer { log.close() }
        let report = try log.verify()
        var problems: [[String: Any]] = report.problems.map { problem in
            var object: [String: Any] = ["kind": problem.kind.rawValue, "message": problem.message]
            if let position = problem.position { object["position"] = position }
            if let key = problem.key { object["key"] = key }
            return object
        }
        let catalog = ProjectionCatalog(store: log.path)
        for name in catalog.names() {
            for version in catalog.versions(of: name) {
                do {
                    if let reason = try catalog.logMismatch(of: name, version: version, log: log) {
                        problems.append(["kind": "projection-log-mismatch", "projection": name, "version": version,
                                         "message": "Projection '\(name)' v\(version) does not match the log: \(reason). Rebuild it: kiroku projections \(store) rebuild \(name)."])
                    }
                } catch let error as KirokuError {
                    problems.append(["kind": "projection-unreadable", "projection": name, "version": version, "message": error.message])
                }
            }
            // A search view counts the postings its removals did not find.
            if catalog.activeVersion(of: name) != nil, let view = try? Registry.shared.projection(name, store: log.path) as? SearchView {
                let health = try? catalog.withReader(name, tables: view.tables) { try $0.searchIndexHealth() }
                if let health, health.missingPostings > 0 {
                    problems.append(["kind": "search-postings-missing", "projection": name,
                                     "message": "Search view '\(name)' did not find \(health.missingPostings) posting(s) it removed: the analyzer changed since they were indexed, or the index is damaged. Rebuild it: kiroku projections \(store) rebuild \(name)."])
                }
            }
        }
        if output.json {
            Output.json(["clean": problems.isEmpty, "records": report.recordsChecked, "keys": report.keysChecked,
                         "head": report.headPosition, "problems": problems])
        } else {
            print("Checked \(report.recordsChecked) records, \(report.keysChecked) keys, \(report.idsChecked) ids; head \(report.headPosition).")
            if problems.isEmpty { print("Clean.") }
            for problem in problems { print("PROBLEM " + [problem["kind"], problem["position"].map { "at position \($0)" }, problem["message"]].compactMap { $0.map { "\($0)" } }.joined(separator: " ")) }
        }
        if !problems.isEmpty { throw CommandExit(status: ExitStatus.integrity, message: "\(problems.count) problem(s) found; see above.") }
    }
}
