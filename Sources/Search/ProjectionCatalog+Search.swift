import Foundation
import KirokuLog
import KirokuProjections

extension ProjectionCatalog {
    /// Search view `name` as this store defines it (its stored JSON mapping), at `version`
    /// (default: the active version, else the newest defined); `nil` when no such view is
    /// defined. Give it to a ``ProjectionRunner`` to run it, as `kiroku` does.
    ///
    /// - Throws: ``KirokuError/Code/invalidProjection`` for a bad name,
    ///   ``KirokuError/Code/invalidMapping`` for a stored mapping that no longer parses.
    public func searchView(_ name: String, version: Int? = nil) throws -> SearchView? {
        try Self.validate(name: name)
        guard let chosen = version ?? defaultViewVersion(of: name),
              let mapping = try viewMapping(of: name, version: chosen) else { return nil }
        return SearchView(name: name, version: chosen, mapping: try SearchMapping(json: mapping))
    }

    /// Every search view this store defines, each at its default version (and, while a newer
    /// version builds, the active one too, so that it keeps following the log): what a runner
    /// needs to keep them all up to date, blue/green.
    public func searchViews() throws -> [SearchView] {
        var views: [SearchView] = []
        for name in viewNames() {
            let newest = viewVersions(of: name).last
            if let newest, let view = try searchView(name, version: newest) { views.append(view) }
            if let active = activeVersion(of: name), active != newest, let view = try searchView(name, version: active) {
                views.append(view)
            }
        }
        return views
    }

    /// Defines search view `name` from a JSON mapping (checked first) as its next version;
    /// returns that version. `kiroku view create` does the same.
    ///
    /// - Throws: ``KirokuError/Code/invalidMapping``, ``KirokuError/Code/invalidProjection``.
    @discardableResult
    public func defineSearchView(_ name: String, mapping: Data) throws -> Int {
        try Self.validate(name: name)
        _ = try SearchMapping(json: mapping)
        return try defineView(name, mapping: mapping)
    }
}
