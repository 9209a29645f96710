import KirokuFeed
import Foundation
import KirokuLog
import Logging
import ServiceLifecycle

/// Keeps projections up to date with the log: a ServiceLifecycle `Service`.
///
/// Each projection version applies batches in its own LMDB environment
/// (`<store>/projections/<name>/v<version>/`), committing its checkpoint in the same
/// transaction as its state: exactly-once effects, whatever crashes. After a restart each
/// resumes from its checkpoint.
///
/// **Blue/green**: when the highest registered version of a projection is not the active one,
/// it builds from the first record while the active version keeps serving reads (and following
/// the log, when its code is registered too). Once the new version has caught up with the head,
/// it becomes active in one atomic step (see `ProjectionDirectory.activate`) and the old one is
/// retired, kept until ``prune(_:)``.
///
/// A projection whose `apply` throws stops with a `failed` status naming the position; it
/// never skips. The others go on.
public final class ProjectionRunner: Service, Sendable {
    /// The log projected.
    public let log: EventLog
    private let projections: [any Projection]
    private let batchSize: Int
    private let logger: Logger
    private let tracks = Locked<[String: [RunningVersion]]>([:])
    private let phase = Locked(Phase.notStarted)
    /// Callers of ``waitUntil(_:version:hasApplied:timeout:)``, checked again whenever a
    /// version moves, fails or switches, and when the runner stops.
    private let waiters = WaitList<Wait, Void>()

    /// Whether ``run()`` has opened the projections, and how it ended.
    private enum Phase {
        case notStarted
        case running
        case stopped(KirokuError)
    }

    /// What a caller of ``waitUntil(_:version:hasApplied:timeout:)`` waits for.
    private struct Wait: Sendable {
        let name: String
        let version: Int?
        let target: UInt64
    }

    /// Makes a runner for these projections (several versions of one name are allowed: the
    /// highest is built, the others follow while they serve). Nothing runs until ``run()``.
    public init(log: EventLog, projections: [any Projection], batchSize: Int = 1000,
                logger: Logger = Logger(label: "kiroku.projections", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.log = log
        self.projections = projections
        self.batchSize = max(1, batchSize)
        self.logger = logger
    }

    /// The names of the projections this runner runs (each with one or more versions).
    public var projectionNames: [String] { Array(Set(projections.map(\.name))).sorted() }

    /// Opens every projection version and applies the log until graceful shutdown or cancellation.
    ///
    /// - Throws: ``KirokuError`` with ``KirokuError/Code/invalidProjection`` or what opening a
    ///   projection's environment throws. Failures of `apply` do not end the run: they show in
    ///   ``status()``.
    public func run() async throws {
        let opened: [String: [RunningVersion]]
        do {
            opened = try openTracks()
        } catch {
            let failure = error as? KirokuError ?? KirokuError(.projectionFailed, "The projection runner could not start: \(error).")
            setPhase(.stopped(failure))
            throw error
        }
        tracks.withLock { $0 = opened }
        setPhase(.running)
        defer {
            setPhase(.stopped(KirokuError(.projectionNotReady, "The projection runner has stopped; run it again to read or wait for its projections.")))
            tracks.withLock { all in
                for track in all.values.flatMap({ $0 }) { track.store.close() }
                all.removeAll()
            }
        }
        let (stopSignal, stop) = AsyncStream<Void>.makeStream()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Bool.self) { group in
                for (name, versions) in opened {
                    for track in versions where track.projection != nil && track.role != .retired {
                        group.addTask { await self.follow(track, name: name); return false }
                    }
                }
                // Runs until graceful shutdown or cancellation, even when every projection has
                // failed: their status and last good state stay readable.
                group.addTask {
                    for await _ in stopSignal { break }
                    return true
                }
                while let stopped = await group.next(), !stopped {}
                group.cancelAll()
            }
        } onGracefulShutdown: {
            // Every committed batch is already checkpointed: stopping loses nothing.
            stop.yield()
            stop.finish()
        }
    }

    private func openTracks() throws -> [String: [RunningVersion]] {
        var byName: [String: [any Projection]] = [:]
        for projection in projections {
            try projection.validate()
            byName[projection.name, default: []].append(projection)
        }
        var opened: [String: [RunningVersion]] = [:]
        for (name, versions) in byName {
            let directory = ProjectionDirectory(store: log.path, name: name)
            let target = versions.map(\.version).max()!
            let active = directory.activeVersion()
            var list: [RunningVersion] = []
            if let active, active != target, !versions.contains(where: { $0.version == active }),
               FileManager.default.fileExists(atPath: directory.versionPath(active)) {
                // The active version's code is gone: it serves reads, frozen, until the new one takes over.
                list.append(try RunningVersion(name: name, version: active, projection: nil, path: directory.versionPath(active), role: .active,
                                      readTables: Array(Set(versions.flatMap(\.tables))), onChange: { [weak self] in self?.recheck(name) }))
            }
            for projection in versions.sorted(by: { $0.version < $1.version }) {
                let role: ProjectionStatus.State
                if projection.version == active { role = .active }
                else if projection.version == target { role = .building }
                else { role = .retired }
                if role == .building { try discardIfTorn(directory.versionPath(projection.version), name: name, version: projection.version) }
                list.append(try RunningVersion(name: name, version: projection.version, projection: projection,
                                      path: directory.versionPath(projection.version), role: role,
                                      onChange: { [weak self] in self?.recheck(name) }))
            }
            // A version that applied another log (or this one before a rollback) must neither go
            // on nor serve: its state describes records the log no longer holds.
            for track in list {
                guard let reason = try LogFingerprint.mismatch(checkpoint: track.position, stored: try track.storedFingerprint(), log: log) else { continue }
                logger.error("Projection does not match the log; it stops", metadata: ["projection": "\(name)", "version": "\(track.version)", "reason": "\(reason)"])
                track.fail(LogFingerprint.error(name, version: track.version, reason, store: log.path), at: track.position, serving: false)
            }
            opened[name] = list
        }
        return opened
    }

    /// Removes a building version that committed without fsync during an earlier boot of the
    /// machine: after an OS crash its files may be torn, and it is rebuilt from the log. (A
    /// process crash loses nothing: the same boot's page cache holds every commit.)
    private func discardIfTorn(_ path: String, name: String, version: Int) throws {
        let marker = RunningVersion.unsyncedMarker(path)
        guard let boot = try? String(contentsOfFile: marker, encoding: .utf8), boot != RunningVersion.bootId() else { return }
        logger.warning("Discarding a build that was not flushed before the machine restarted; it is rebuilt from the log", metadata: [
            "projection": "\(name)", "version": "\(version)", "path": "\(path)",
        ])
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw KirokuError(.permissionDenied, "Cannot remove the torn build \(path) (\(error.localizedDescription)); remove it by hand and start again.", path: path)
        }
    }

    /// Applies the log to one version until cancelled; switches it on once a building version catches up.
    private func follow(_ track: RunningVersion, name: String) async {
        guard let projection = track.projection, track.role != .failed else { return }
        do {
            // A first build over an empty (or already applied) log is caught up at once.
            if track.role == .building, try track.position >= log.headPosition() {
                try switchOn(track, name: name)
            }
            // A version still building can be rebuilt from the log, so its commits are not
            // flushed one by one (a process crash loses nothing; after an OS crash it is rebuilt).
            // Switching it on flushes everything and restores durable commits.
            if track.role == .building { try track.relaxSync(true) }
            while true {
                do {
                    try await follow(track, projection, from: track.position + 1, name: name)
                    return
                } catch let moved as RunningVersion.CheckpointMoved {
                    // Another process (the CLI, another instance) applied batches of this
                    // version: go on from its checkpoint, never applying a record twice.
                    track.adopt(moved.position)
                }
            }
        } catch is CancellationError {
        } catch {
            track.fail(error, at: track.position)
        }
    }

    /// Applies the log from `position` until cancelled, a failure, or another process moves the
    /// checkpoint (``RunningVersion/CheckpointMoved``).
    private func follow(_ track: RunningVersion, _ projection: any Projection, from position: UInt64, name: String) async throws {
        let feed = EventFeed(log: log, selection: projection.selection, from: .position(position), batchSize: batchSize)
        // The next batch is read and prepared while the current one is applied. Everything
        // that must not wait for the next read (failure status, switching on) happens in `step`.
        var batches = feed.batches.makeAsyncIterator()
        func prepared(_ batch: FeedBatch?) -> (FeedBatch, Result<(any Sendable)?, any Error>)? {
            guard let batch else { return nil }
            guard !batch.records.isEmpty else { return (batch, .success(nil)) }
            return (batch, Result { try projection.prepare(batch.records) })
        }
        var next = prepared(try await batches.next())
        while let (batch, preparation) = next {
            if track.role == .retired { return }
            async let stepped = step(track, batch, preparation, name: name)
            next = prepared(try await batches.next())
            guard try await stepped else { return }
        }
    }

    /// Applies one batch; on failure marks the version failed (it never skips) and returns false.
    private func step(_ track: RunningVersion, _ batch: FeedBatch, _ preparation: Result<(any Sendable)?, any Error>, name: String) async throws -> Bool {
        do {
            let fingerprint = try LogFingerprint.of(log, at: batch.throughPosition)
            try await track.apply(batch, prepared: try preparation.get(), fingerprint: fingerprint)
        } catch let moved as RunningVersion.CheckpointMoved {
            throw moved
        } catch {
            track.fail(error, at: track.position)
            logger.error("Projection failed; it stops here and never skips", metadata: [
                "projection": "\(name)", "version": "\(track.version)", "position": "\(track.position)", "error": "\(error)",
            ])
            return false
        }
        if track.role == .building, try batch.throughPosition >= log.headPosition() {
            try switchOn(track, name: name)
        }
        return true
    }

    /// Makes a caught-up building version the active one and retires the others.
    private func switchOn(_ track: RunningVersion, name: String) throws {
        // It committed without fsync while it built: flush it. (A build the machine restarted
        // under was discarded when it was opened: see discardIfTorn.)
        try track.relaxSync(false)
        try ProjectionDirectory(store: log.path, name: name).activate(track.version)
        let others = tracks.withLock { $0[name] ?? [] }.filter { $0 !== track }
        track.setRole(.active, notify: false)
        for other in others { other.setRole(.retired, notify: false) }
        recheck(name)
        logger.info("Projection version switched on", metadata: ["projection": "\(name)", "version": "\(track.version)"])
    }

    // MARK: Reading

    /// A reader of the active version of a projection. It follows the active version: after a
    /// blue/green switch its reads go to the new version (see ``ProjectionReader``).
    ///
    /// - Throws: ``KirokuError/Code/projectionNotReady`` when the runner has no such projection
    ///   or no version is active yet (the first build has not caught up).
    public func reader(_ name: String) throws -> ProjectionReader {
        let resolve: @Sendable () throws -> (version: Int, store: KeyValueStore) = { [weak self] in
            guard let self, let track = self.activeTrack(name) else {
                throw KirokuError(.projectionNotReady, "Projection '\(name)' has no active version: it is not registered with this running runner, or its first build has not caught up. Check status().")
            }
            return (track.version, track.store)
        }
        _ = try resolve()
        return ProjectionReader(name: name, source: .following(resolve))
    }

    /// Waits until the active version of `name` (or, given `version`, that version, once it is
    /// the active one) has applied every record up to `position` (read-your-writes: append,
    /// then wait for the append's position, then read). The wait follows the active version
    /// across a blue/green switch.
    ///
    /// It ends at once, with the error, when what it waits for cannot happen: the version (or
    /// the first build) failed, the runner could not start or has stopped, the projection is
    /// not registered. It never polls: it is woken by each batch applied.
    ///
    /// - Throws: ``KirokuError/Code/projectionTimeout``, ``KirokuError/Code/projectionFailed``,
    ///   ``KirokuError/Code/projectionNotReady`` (not registered, not active by the timeout, or
    ///   the runner stopped), or the error that stopped ``run()``.
    public func waitUntil(_ name: String, version: Int? = nil, hasApplied position: UInt64, timeout: Duration = .seconds(5)) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await self.waiters.wait(for: Wait(name: name, version: version, target: position)) { wait in
                    self.resolution(wait.name, version: wait.version, target: wait.target)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                let serving = self.activeTrack(name)
                if serving == nil || (version != nil && serving?.version != version) {
                    throw KirokuError(.projectionNotReady, "Projection '\(name)'\(version.map { " v\($0)" } ?? "") is not active after \(timeout): its build has not caught up. Check status() for its lag.")
                }
                throw KirokuError(.projectionTimeout, "Projection '\(name)' did not reach position \(position) within \(timeout); it is at \(serving?.position ?? 0). Check its status for lag or a failure.", position: position)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// What a wait comes to now: done, failed, or `nil` (still waiting).
    private func resolution(_ name: String, version: Int?, target: UInt64) -> Result<Void, any Error>? {
        let phase = phase.withLock { $0 }
        if case .stopped(let error) = phase { return .failure(error) }
        let list = tracks.withLock { $0[name] ?? [] }
        if case .running = phase, list.isEmpty {
            return .failure(KirokuError(.projectionNotReady, "Projection '\(name)' is not registered with this runner; pass it to ProjectionRunner(log:projections:)."))
        }
        if let version {
            guard let track = list.first(where: { $0.version == version }) else {
                if case .running = phase {
                    return .failure(KirokuError(.projectionNotReady, "Projection '\(name)' has no version \(version) in this runner; its versions are \(list.map { "v\($0.version)" }.joined(separator: ", "))."))
                }
                return nil
            }
            if let failure = track.failure { return .failure(failure) }
            if track.role == .retired {
                return .failure(KirokuError(.projectionNotReady, "Projection '\(name)' v\(version) is retired: another version serves reads."))
            }
            return track.serves && track.position >= target ? .success(()) : nil
        }
        if let active = list.last(where: { $0.serves }) {
            if active.position >= target { return .success(()) }
            if let failure = active.failure { return .failure(failure) }
            return nil
        }
        if let failure = list.compactMap(\.failure).last { return .failure(failure) }
        return nil
    }

    /// Resumes the waiters of `name` whose wait is over.
    private func recheck(_ name: String) {
        waiters.recheck { wait in
            wait.name == name ? resolution(name, version: wait.version, target: wait.target) : nil
        }
    }

    private func setPhase(_ phase: Phase) {
        self.phase.withLock { $0 = phase }
        waiters.recheck { wait in resolution(wait.name, version: wait.version, target: wait.target) }
    }

    private func activeTrack(_ name: String) -> RunningVersion? {
        tracks.withLock { $0[name] ?? [] }.last { $0.serves }
    }

    /// Every version of every projection: state, position, lag, rate and ETA.
    public func status() throws -> [ProjectionStatus] {
        let head = try log.headPosition()
        return tracks.withLock { $0.values.flatMap { $0 } }
            .map { $0.status(head: head) }
            .sorted { ($0.name, $0.version) < ($1.name, $1.version) }
    }

    /// Removes the retired versions of a projection from disk (their files too). The active
    /// version and a version still building are kept.
    ///
    /// - Returns: the versions removed.
    @discardableResult
    public func prune(_ name: String) throws -> [Int] {
        let retired = tracks.withLock { all -> [RunningVersion] in
            let retired = (all[name] ?? []).filter { $0.role == .retired }
            all[name] = (all[name] ?? []).filter { $0.role != .retired }
            return retired
        }
        let directory = ProjectionDirectory(store: log.path, name: name)
        for track in retired {
            track.store.close()
            try FileManager.default.removeItem(atPath: directory.versionPath(track.version))
            // A view's mapping of that version goes with it (see ProjectionCatalog).
            let mapping = ProjectionCatalog.mappingPath(store: log.path, name: name, version: track.version)
            if FileManager.default.fileExists(atPath: mapping) { try FileManager.default.removeItem(atPath: mapping) }
        }
        return retired.map(\.version)
    }
}
