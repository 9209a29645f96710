import ArgumentParser
import KirokuFeed
import Foundation
import KirokuLog
import KirokuProjections
import KirokuSearch

/// `kiroku verify`: the full integrity check.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the log (checksums, gaps, key chains, indexes, ids) and every projection's checkpoint.",
        discussion: "Exit 0 when clean; 3 with the position of every problem.")

    @Argument(help: "The store directory.") var store: String
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try StoreOpener.open(store)
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
