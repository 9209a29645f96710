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

    /// Projections defined in code, by name (the built-in ones and the registered ones).
    func code() -> [String: any Projection] {
        var byName: [String: any Projection] = [:]
        for projection in ProjectionCatalog.builtInProjections + registered() { byName[projection.name] = projection }
        return byName
    }

    /// The projections a service registered.
    func registered() -> [any Projection] { custom.withLock { $0 } }

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
        ProjectionCatalog(store: store).knownNames(code: registered())
    }

    /// Projection `name` as version `version` (default: the active one, else the newest known).
    func projection(_ name: String, store: String, version: Int? = nil) throws -> any Projection {
        try ProjectionCatalog(store: store).projection(name, version: version, code: registered())
    }
}
