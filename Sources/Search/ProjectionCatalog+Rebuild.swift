import Foundation
import KirokuLog
import KirokuProjections

extension ProjectionCatalog {
    /// The projections every store has: `event-counts` and `latest-state`.
    public static var builtInProjections: [any Projection] { [EventCounts(), LatestState()] }

    /// Every projection name that can run on this store: the built-in ones, `code` (the
    /// projections a service defines in Swift) and the store's search views.
    public func knownNames(code: [any Projection] = []) -> [String] {
        Array(Set((Self.builtInProjections + code).map(\.name)).union(viewNames())).sorted()
    }

    /// Projection `name` as version `version` (default: the active one, else the newest
    /// known): a search view defined by this store's JSON mapping, else one of `code` or the
    /// built-in ones (as ``VersionedProjection`` when another version is asked for).
    ///
    /// - Throws: ``KirokuError/Code/projectionNotFound`` naming the known ones,
    ///   ``KirokuError/Code/invalidProjection`` for a bad name.
    public func projection(_ name: String, version: Int? = nil, code: [any Projection] = []) throws -> any Projection {
        try Self.validate(name: name)
        if !viewVersions(of: name).isEmpty {
            guard let view = try searchView(name, version: version) else {
                throw KirokuError(.projectionNotFound, "View '\(name)' has no mapping for v\(version.map(String.init) ?? "?"); its versions are \(viewVersions(of: name).map { "v\($0)" }.joined(separator: ", ")).")
            }
            return view
        }
        var byName: [String: any Projection] = [:]
        for projection in Self.builtInProjections + code { byName[projection.name] = projection }
        guard let base = byName[name] else {
            throw KirokuError(.projectionNotFound, "No projection or view named '\(name)' in \(store). Known: \(knownNames(code: code).joined(separator: ", ")). Define a view with `kiroku view create \(store) \(name) --mapping mapping.json`.")
        }
        let chosen = version ?? max(base.version, activeVersion(of: name) ?? base.version)
        return chosen == base.version ? base : VersionedProjection(base, version: chosen)
    }

    /// What a rebuild did.
    public struct Rebuild: Sendable, Hashable {
        /// The version built, now active.
        public var version: Int
        /// Older versions removed (when asked to prune).
        public var pruned: [Int]
    }

    /// The version a rebuild of `name` builds: an unfinished rebuild's version (resumed), else
    /// the next one.
    public func rebuildTarget(of name: String, code: [any Projection] = []) throws -> Int {
        let current = try projection(name, code: code)
        let active = activeVersion(of: name)
        let onDisk = versions(of: name)
        if let highest = onDisk.max(), highest > (active ?? 0) { return highest }
        return max(onDisk.max() ?? 0, viewVersions(of: name).max() ?? 0, current.version - 1) + 1
    }

    /// Blue/green rebuild of `name` in this process: builds the next version from the start of
    /// the log (or resumes an unfinished rebuild) while the active version keeps serving, and
    /// switches when it has caught up with the head as of the call; with `prune`, removes the
    /// older versions. A search view's next version is defined from its current mapping.
    ///
    /// - Throws: ``KirokuError/Code/projectionNotFound``, ``KirokuError/Code/invalidMapping``
    ///   (a view without a JSON mapping), or what the build throws
    ///   (``KirokuError/Code/projectionFailed``).
    @discardableResult
    public func rebuild(_ name: String, log: EventLog, code: [any Projection] = [], prune: Bool = false,
                        progress: (@Sendable (_ version: Int, _ position: UInt64, _ target: UInt64) -> Void)? = nil) async throws -> Rebuild {
        let current = try projection(name, code: code)
        let active = activeVersion(of: name)
        let target = try rebuildTarget(of: name, code: code)
        if let view = current as? SearchView, !viewVersions(of: name).contains(target) {
            guard let json = view.mapping.json else {
                throw KirokuError(.invalidMapping, "View '\(name)' has no JSON mapping to rebuild from; define its next version with `kiroku view create`.")
            }
            _ = try defineView(name, mapping: json, version: target)
        }
        var projections = [try projection(name, version: target, code: code)]
        if let active, active != target { projections.append(try projection(name, version: active, code: code)) }
        var report: (@Sendable (UInt64, UInt64) -> Void)?
        if let progress { report = { position, head in progress(target, position, head) } }
        try await ProjectionRunner.runUntilActive(log: log, projections: projections, name: name, version: target, progress: report)
        var pruned: [Int] = []
        if prune {
            for version in versions(of: name) where version != target {
                try remove(name, version: version)
                pruned.append(version)
            }
        }
        return Rebuild(version: target, pruned: pruned)
    }
}
