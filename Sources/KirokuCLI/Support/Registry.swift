import Foundation
import KirokuLog
import KirokuProjections
import KirokuSearch

/// The projections the CLI knows: the built-in ones (`event-counts`, `latest-state`), those a
/// service registered (``KirokuCLI/main(projections:arguments:)``), and the store's search
/// views defined from JSON mappings (`<store>/views/<name>/v<version>.json`).
final class Registry: Sendable {
    static let shared = Registry()
    private let custom = Locked<[any Projection]>([])

    func register(_ projections: [any Projection]) {
        custom.withLock { $0.append(contentsOf: projections) }
    }

    /// Projections defined in code, by name.
    func code() -> [String: any Projection] {
        var byName: [String: any Projection] = [:]
        for projection in [EventCounts(), LatestState()] + custom.withLock({ $0 }) { byName[projection.name] = projection }
        return byName
    }

    static func viewRoot(_ store: String, _ name: String) -> String { store + "/views/" + name }

    static func mappingPath(_ store: String, _ name: String, version: Int) -> String {
        viewRoot(store, name) + "/v\(version).json"
    }

    /// The versions of a JSON view that have a mapping.
    func viewVersions(_ store: String, _ name: String) -> [Int] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: Self.viewRoot(store, name))) ?? []
        return entries.compactMap { entry in
            guard entry.hasPrefix("v"), entry.hasSuffix(".json") else { return nil }
            return Int(entry.dropFirst().dropLast(5))
        }.sorted()
    }

    /// The JSON views of a store.
    func viewNames(_ store: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: store + "/views")) ?? []
        return entries.filter { !viewVersions(store, $0).isEmpty }.sorted()
    }

    /// Every projection name the CLI can run on this store.
    func names(_ store: String) -> [String] {
        Array(Set(code().keys).union(viewNames(store))).sorted()
    }

    /// Projection `name` as version `version` (default: the active one, else the newest known).
    func projection(_ name: String, store: String, version: Int? = nil) throws -> any Projection {
        try ProjectionCatalog.validate(name: name)
        let catalog = ProjectionCatalog(store: store)
        let versions = viewVersions(store, name)
        if !versions.isEmpty {
            let chosen = version ?? catalog.activeVersion(of: name).flatMap { versions.contains($0) ? $0 : nil } ?? versions.last!
            let path = Self.mappingPath(store, name, version: chosen)
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandExit.notFound("View '\(name)' has no mapping for v\(chosen) (\(path)).")
            }
            return SearchView(name: name, version: chosen, mapping: try SearchMapping(contentsOf: URL(fileURLWithPath: path)))
        }
        guard let base = code()[name] else {
            throw CommandExit.notFound("No projection or view named '\(name)' in \(store). Known: \(names(store).joined(separator: ", ")). Create a view with `kiroku view create \(store) \(name) --mapping mapping.json`.")
        }
        let chosen = version ?? max(base.version, catalog.activeVersion(of: name) ?? base.version)
        return chosen == base.version ? base : VersionedProjection(base, version: chosen)
    }
}
