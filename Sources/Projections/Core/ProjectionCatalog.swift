import KirokuFeed
import Foundation
import KirokuLog

/// Everything a store holds besides the log, as it is on disk: each projection's versions and
/// active version (`<store>/projections/`), and the views defined by a mapping
/// (`<store>/views/<name>/v<version>.json`). A service and the `kiroku` CLI see the same
/// catalog: a view defined by one is run, listed and searched by the other. It also checks
/// names (``validate(name:)``), the one place that does.
public struct ProjectionCatalog: Sendable {
    /// The store's directory.
    public let store: String

    /// The catalog of the store at `store`.
    public init(store: String) {
        self.store = store
    }

    /// Checks a projection or view name before anything uses it: 1 to 64 bytes of `a-z`,
    /// `0-9`, `-` and `_`. Names become directory names under the store, so nothing else (no
    /// `/`, no `..`, no NUL) may pass.
    ///
    /// - Throws: ``KirokuError/Code/invalidProjection``.
    public static func validate(name: String) throws {
        guard !name.isEmpty, name.utf8.count <= 64,
              name.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x5F }) else {
            let shown = name.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
            throw KirokuError(.invalidProjection, "'\(shown)' cannot name a projection or view: use 1 to 64 characters of a-z, 0-9, '-' and '_'.")
        }
    }

    /// The projections that have at least one version on disk, by name.
    public func names() -> [String] {
        let root = store + "/projections"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.filter { !versions(of: $0).isEmpty }.sorted()
    }

    /// The versions of `name` on disk, ascending (none for a name that is not valid).
    public func versions(of name: String) -> [Int] {
        guard (try? Self.validate(name: name)) != nil else { return [] }
        return Self.versionNumbers(in: ProjectionDirectory(store: store, name: name).root, suffix: "")
    }

    /// The version of `name` that serves reads, or `nil` when none has been switched on yet.
    public func activeVersion(of name: String) -> Int? {
        ProjectionDirectory(store: store, name: name).activeVersion()
    }

    /// Copies every projection version's environment (consistent, while it is written) and
    /// which version is active, and every view definition, into the store directory
    /// `directory` (a backup's). Run it before ``EventLog/backup(to:compact:)`` into the same
    /// directory: each copy is then at or before the log copy's head. The environments must not
    /// be open in this process.
    public func backup(into directory: String, compact: Bool = false) throws {
        let manager = FileManager.default
        for name in names() {
            let projection = ProjectionDirectory(store: store, name: name)
            let target = ProjectionDirectory(store: directory, name: name)
            try manager.createDirectory(atPath: target.root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            for version in versions(of: name) {
                let state = try KeyValueStore(path: projection.versionPath(version), tables: [])
                defer { state.close() }
                try state.backup(to: target.versionPath(version), compact: compact)
            }
            for file in (try? manager.contentsOfDirectory(atPath: projection.root)) ?? [] where !file.hasPrefix("v") {
                try manager.copyItem(atPath: projection.root + "/" + file, toPath: target.root + "/" + file)
            }
        }
        if manager.fileExists(atPath: store + "/views") {
            try manager.copyItem(atPath: store + "/views", toPath: directory + "/views")
        }
    }

    /// The position version `version` of `name` has applied, read from its environment (which
    /// must not be open in this process).
    public func checkpoint(of name: String, version: Int) throws -> UInt64 {
        try Self.validate(name: name)
        let path = ProjectionDirectory(store: store, name: name).versionPath(version)
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else {
            throw KirokuError(.projectionNotReady, "Projection '\(name)' has no version \(version) at \(path).", path: path)
        }
        let state = try KeyValueStore(path: path, tables: [RunningVersion.metaTable])
        defer { state.close() }
        return try state.read { try $0.get(RunningVersion.positionKey, in: RunningVersion.metaTable).map(RunningVersion.decodePosition) ?? 0 }
    }

    /// Why version `version` of `name` does not match `log` (its checkpoint is past the head,
    /// it was built from another store, or the record at its checkpoint is not the one it
    /// applied), or `nil` when it matches. Its environment must not be open in this process.
    public func logMismatch(of name: String, version: Int, log: EventLog) throws -> String? {
        try Self.validate(name: name)
        let path = ProjectionDirectory(store: store, name: name).versionPath(version)
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else {
            throw KirokuError(.projectionNotReady, "Projection '\(name)' has no version \(version) at \(path).", path: path)
        }
        let state = try KeyValueStore(path: path, tables: [RunningVersion.metaTable])
        defer { state.close() }
        let (checkpoint, stored) = try state.read { txn in
            (try txn.get(RunningVersion.positionKey, in: RunningVersion.metaTable).map(RunningVersion.decodePosition) ?? 0,
             try txn.get(LogFingerprint.key, in: RunningVersion.metaTable).flatMap(LogFingerprint.init(decoding:)))
        }
        return try LogFingerprint.mismatch(checkpoint: checkpoint, stored: stored, log: log)
    }

    /// The active version of `name` and the position it has applied, or `nil` when no version
    /// has been switched on yet.
    public func activeCheckpoint(of name: String) throws -> (version: Int, position: UInt64)? {
        try activeVersion(of: name).map { ($0, try checkpoint(of: name, version: $0)) }
    }

    /// Calls `body` with a reader of the active version of `name` as it is on disk (not
    /// catching up with the log), opened for the call. `tables`: the projection's tables.
    ///
    /// - Throws: ``KirokuError/Code/projectionNotReady`` when no version is active.
    public func withReader<T>(_ name: String, tables: [String], _ body: (ProjectionReader) throws -> T) throws -> T {
        try Self.validate(name: name)
        guard let version = activeVersion(of: name) else {
            throw KirokuError(.projectionNotReady, "Projection '\(name)' has no active version in \(store) yet; build it first.")
        }
        let state = try KeyValueStore(path: ProjectionDirectory(store: store, name: name).versionPath(version), tables: tables + [RunningVersion.metaTable])
        defer { state.close() }
        return try body(ProjectionReader(name: name, source: .pinned(version: version, store: state)))
    }

    /// The views defined by a mapping in this store, by name.
    public func viewNames() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: store + "/views")) ?? []
        return entries.filter { !viewVersions(of: $0).isEmpty }.sorted()
    }

    /// The versions of view `name` that have a mapping, ascending (none for a name that is not valid).
    public func viewVersions(of name: String) -> [Int] {
        guard (try? Self.validate(name: name)) != nil else { return [] }
        return Self.versionNumbers(in: store + "/views/" + name, suffix: ".json")
    }

    /// The mapping of version `version` of view `name`, as stored, or `nil` when there is none.
    public func viewMapping(of name: String, version: Int) throws -> Data? {
        try Self.validate(name: name)
        return FileManager.default.contents(atPath: Self.mappingPath(store: store, name: name, version: version))
    }

    /// The version of a view a reader or a tool means by default: the active one when it has a
    /// mapping, else the newest defined.
    public func defaultViewVersion(of name: String) -> Int? {
        let versions = viewVersions(of: name)
        if let active = activeVersion(of: name), versions.contains(active) { return active }
        return versions.last
    }

    /// Defines view `name` with `mapping` as its next version (after every version on disk,
    /// built or defined), or as `version` when given, and returns that version. A runner given the catalog's views builds
    /// it blue/green while the active version serves.
    ///
    /// - Throws: ``KirokuError/Code/invalidProjection`` for a bad name,
    ///   ``KirokuError/Code/permissionDenied`` or ``KirokuError/Code/storageFailure``.
    public func defineView(_ name: String, mapping: Data, version given: Int? = nil) throws -> Int {
        try Self.validate(name: name)
        let version = given ?? ((viewVersions(of: name) + versions(of: name)).max() ?? 0) + 1
        guard version >= 1 else { throw KirokuError(.invalidProjection, "View '\(name)' cannot have version \(version); versions start at 1.") }
        try Self.saveMapping(mapping, of: name, version: version, store: store)
        return version
    }

    /// The N of the entries `vN<suffix>` of a directory, ascending.
    private static func versionNumbers(in directory: String, suffix: String) -> [Int] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.compactMap { entry in
            guard entry.hasPrefix("v"), entry.hasSuffix(suffix) else { return nil }
            return Int(entry.dropFirst().dropLast(suffix.count))
        }.sorted()
    }

    static func mappingPath(store: String, name: String, version: Int) -> String {
        store + "/views/" + name + "/v\(version).json"
    }

    /// Stores a view's mapping as `<store>/views/<name>/v<version>.json`, mode 0600 in a 0700
    /// directory, flushed before it is used.
    ///
    /// - Throws: ``KirokuError/Code/invalidProjection`` for a bad name,
    ///   ``KirokuError/Code/permissionDenied`` or ``KirokuError/Code/storageFailure``.
    static func saveMapping(_ data: Data, of name: String, version: Int, store: String) throws {
        try validate(name: name)
        let directory = store + "/views/" + name
        try ProjectionDirectory.createPrivateDirectory(directory)
        let path = directory + "/v\(version).json"
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw KirokuError(.permissionDenied, "Cannot write \(path); check the store directory's permissions.", path: path)
        }
        try ProjectionDirectory.sync(path, doing: "saving the mapping of \(name) v\(version)")
        try ProjectionDirectory.sync(directory, doing: "saving the mapping of \(name) v\(version)")
    }

    /// Makes `version` of `name` the active one (one atomic step; see ``ProjectionRunner``).
    /// A running runner notices on its next start.
    ///
    /// - Throws: ``KirokuError/Code/projectionNotReady`` when that version is not on disk.
    public func activate(_ name: String, version: Int) throws {
        try Self.validate(name: name)
        guard versions(of: name).contains(version) else {
            throw KirokuError(.projectionNotReady, "Projection '\(name)' has no version \(version); its versions are \(versions(of: name).map { "v\($0)" }.joined(separator: ", ")).")
        }
        try ProjectionDirectory(store: store, name: name).activate(version)
    }

    /// Removes version `version` of `name` from disk.
    ///
    /// - Throws: ``KirokuError/Code/invalidProjection`` for the active version,
    ///   ``KirokuError/Code/projectionNotReady`` when it is not on disk.
    public func remove(_ name: String, version: Int) throws {
        try Self.validate(name: name)
        guard versions(of: name).contains(version) else {
            throw KirokuError(.projectionNotReady, "Projection '\(name)' has no version \(version).")
        }
        guard activeVersion(of: name) != version else {
            throw KirokuError(.invalidProjection, "v\(version) is the active version of '\(name)'; switch to another version first.")
        }
        try FileManager.default.removeItem(atPath: ProjectionDirectory(store: store, name: name).versionPath(version))
        // A view's mapping of that version goes with it.
        let mapping = Self.mappingPath(store: store, name: name, version: version)
        if FileManager.default.fileExists(atPath: mapping) { try FileManager.default.removeItem(atPath: mapping) }
    }
}

/// A projection under another version number: the same code, rebuilt (blue/green) into a new
/// environment. Tools use it to rebuild a projection whose code has not changed.
public struct VersionedProjection: Projection {
    /// The projection.
    public let base: any Projection
    /// The version it runs as.
    public let version: Int

    /// `base`, running as `version`.
    public init(_ base: any Projection, version: Int) {
        self.base = base
        self.version = version
    }

    /// The base's name.
    public var name: String { base.name }
    /// The base's selection.
    public var selection: Selection { base.selection }
    /// The base's tables.
    public var tables: [String] { base.tables }

    /// The base's apply.
    public func apply(_ records: [Record], to state: ProjectionState) throws {
        try base.apply(records, to: state)
    }

    /// The base's prepare.
    public func prepare(_ records: [Record]) throws -> (any Sendable)? {
        try base.prepare(records)
    }

    /// The base's apply of a prepared batch.
    public func apply(_ records: [Record], prepared: (any Sendable)?, to state: ProjectionState) throws {
        try base.apply(records, prepared: prepared, to: state)
    }
}
