import ArgumentParser
import Foundation
import KirokuLog
import KirokuProjections
import KirokuSearch

/// `kiroku projections <store> status|rebuild|switch|prune`.
struct ProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Projections and their versions: status, blue/green rebuild, switch, prune.",
        discussion: """
        kiroku projections <store> status [--json]
        kiroku projections <store> rebuild <name> [--prune]   build the next version, switch when caught up
        kiroku projections <store> switch <name> <version>
        kiroku projections <store> prune <name> <version>
        """)

    enum Action: String, ExpressibleByArgument, CaseIterable { case status, rebuild, `switch`, prune }

    @Argument(help: "The store directory.") var store: String
    @Argument(help: "status, rebuild, switch or prune.") var action: Action
    @Argument(help: "The projection or view (rebuild, switch, prune).") var name: String?
    @Argument(help: "The version (switch, prune).") var version: Int?
    @Flag(help: "rebuild: remove the older versions once the new one is active.") var prune = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        func needName() throws -> String {
            guard let name else { throw CommandExit.input("\(action.rawValue) needs a projection name: kiroku projections \(store) \(action.rawValue) <name>\(action == .rebuild ? "" : " <version>").") }
            return name
        }
        func needVersion() throws -> Int {
            guard let version else { throw CommandExit.input("\(action.rawValue) needs a version: kiroku projections \(store) \(action.rawValue) \(name ?? "<name>") <version>.") }
            return version
        }
        switch action {
        case .status: try await status()
        case .rebuild: try await rebuild(try needName())
        case .switch: try switchTo(try needName(), version: try needVersion())
        case .prune: try prune(try needName(), version: try needVersion())
        }
    }

    /// Positions are read twice, half a second apart: the rate is what the version applies now
    /// (by whichever process runs it).
    private func status() async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        let catalog = ProjectionCatalog(store: log.path)
        let names = Set(catalog.names()).union(Registry.shared.names(log.path)).sorted()
        func positions() throws -> [String: UInt64] {
            var result: [String: UInt64] = [:]
            for name in names { for version in catalog.versions(of: name) { result["\(name)/\(version)"] = try catalog.checkpoint(of: name, version: version) } }
            return result
        }
        let before = try positions()
        if !before.isEmpty { try await Task.sleep(for: .milliseconds(500)) }
        let after = try positions()
        let head = try log.headPosition()
        var rows: [[String]] = []
        for name in names {
            let active = catalog.activeVersion(of: name)
            let versions = catalog.versions(of: name)
            if versions.isEmpty {
                if output.json { Output.json(["name": name, "state": "not-built"]) } else { rows.append([name, "-", "not built", "-", "-", "-"]) }
                continue
            }
            for version in versions {
                let position = after["\(name)/\(version)"] ?? 0
                let rate = Double(position - min(position, before["\(name)/\(version)"] ?? position)) / 0.5
                let state = version == active ? "active" : (active.map { version < $0 } ?? false) ? "retired" : "building"
                let lag = head - min(head, position)
                if output.json {
                    Output.json(["name": name, "version": version, "state": state, "position": position, "lag": lag, "rate": rate, "head": head])
                } else {
                    rows.append([name, "v\(version)", state, "\(position)", "\(lag)", String(format: "%.0f/s", rate)])
                }
            }
        }
        if !output.json { Output.table(["PROJECTION", "VERSION", "STATE", "POSITION", "LAG", "RATE"], rows) }
    }

    /// Builds the next version (or resumes an unfinished one) and switches when caught up.
    private func rebuild(_ name: String) async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        let catalog = ProjectionCatalog(store: log.path)
        let code = Registry.shared.registered()
        let target = try catalog.rebuildTarget(of: name, code: code)
        let progress = Running.rebuildProgress("rebuilding \(name) v\(target)", total: try log.headPosition())
        let rebuild = try await catalog.rebuild(name, log: log, code: code, prune: prune, progress: progress.report)
        progress.bar.withLock { $0.update($0.total ?? 0, force: true); $0.finish() }
        if output.json {
            Output.json(["name": name, "version": rebuild.version, "position": try log.headPosition(), "pruned": rebuild.pruned])
        } else {
            print("\(name) v\(rebuild.version) is active" + (rebuild.pruned.isEmpty ? "." : "; pruned \(rebuild.pruned.map { "v\($0)" }.joined(separator: ", "))."))
        }
    }

    private func switchTo(_ name: String, version: Int) throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        try ProjectionCatalog(store: log.path).activate(name, version: version)
        if output.json { Output.json(["name": name, "active": version]) } else { print("\(name) v\(version) is active.") }
    }

    private func prune(_ name: String, version: Int) throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        try ProjectionCatalog(store: log.path).remove(name, version: version)
        if output.json { Output.json(["name": name, "pruned": version]) } else { print("Removed \(name) v\(version).") }
    }
}
