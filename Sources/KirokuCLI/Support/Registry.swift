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

    /// The versions of a JSON view that have a mapping.
    func viewVersions(_ store: String, _ name: String) -> [Int] {
        ProjectionCatalog(store: store).viewVersions(of: name)
    }

    /// The JSON views of a store.
    func viewNames(_ store: String) -> [String] {
        ProjectionCatalog(store: store).viewNames()
    }

    /// Every projection name the CLI can run on this store.
    func names(_ store: String) -> [String] {
        Array(Set(code().keys).union(viewNames(store))).sorted()
    }

    /// Projection `name` as version `version` (default: the active one, else the newest known).
    func projection(_ name: String, store: String, version: Int? = nil) throws -> any Projection {
        try ProjectionCatalog.validate(name: name)
        let catalog = ProjectionCatalog(store: store)
        if !catalog.viewVersions(of: name).isEmpty {
            guard let view = try catalog.searchView(name, version: version) else {
                throw CommandExit.notFound("View '\(name)' has no mapping for v\(version.map(String.init) ?? "?"); its versions are \(catalog.viewVersions(of: name).map { "v\($0)" }.joined(separator: ", ")).")
            }
            return view
        }
        guard let base = code()[name] else {
            throw CommandExit.notFound("No projection or view named '\(name)' in \(store). Known: \(names(store).joined(separator: ", ")). Create a view with `kiroku view create \(store) \(name) --mapping mapping.json`.")
        }
        let chosen = version ?? max(base.version, catalog.activeVersion(of: name) ?? base.version)
        return chosen == base.version ? base : VersionedProjection(base, version: chosen)
    }
}
