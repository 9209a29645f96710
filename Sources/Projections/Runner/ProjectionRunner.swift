import Feed
import Foundation
import Log
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
    private let tracks = Locked<[String: [Track]]>([:])

    /// Makes a runner for these projections (several versions of one name are allowed: the
    /// highest is built, the others follow while they serve). Nothing runs until ``run()``.
    public init(log: EventLog, projections: [any Projection], batchSize: Int = 1000,
                logger: Logger = Logger(label: "kiroku.projections", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.log = log
        self.projections = projections
        self.batchSize = max(1, batchSize)
        self.logger = logger
    }

    /// Opens every projection version and applies the log until graceful shutdown or cancellation.
    ///
    /// - Throws: ``KirokuError`` with ``KirokuError/Code/invalidProjection`` or what opening a
    ///   projection's environment throws. Failures of `apply` do not end the run: they show in
    ///   ``status()``.
    public func run() async throws {
        let opened = try openTracks()
        tracks.withLock { $0 = opened }
        defer {
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

    private func openTracks() throws -> [String: [Track]] {
        var byName: [String: [any Projection]] = [:]
        for projection in projections {
            try projection.validate()
            byName[projection.name, default: []].append(projection)
        }
        var opened: [String: [Track]] = [:]
        for (name, versions) in byName {
            let directory = ProjectionDirectory(store: log.path, name: name)
            let target = versions.map(\.version).max()!
            let active = directory.activeVersion()
            var list: [Track] = []
            if let active, active != target, !versions.contains(where: { $0.version == active }),
               FileManager.default.fileExists(atPath: directory.versionPath(active)) {
                // The active version's code is gone: it serves reads, frozen, until the new one takes over.
                list.append(try Track(name: name, version: active, projection: nil, path: directory.versionPath(active), role: .active))
            }
            for projection in versions.sorted(by: { $0.version < $1.version }) {
                let role: ProjectionStatus.State
                if projection.version == active { role = .active }
                else if projection.version == target { role = .building }
                else { role = .retired }
                list.append(try Track(name: name, version: projection.version, projection: projection,
                                      path: directory.versionPath(projection.version), role: role))
            }
            opened[name] = list
        }
        return opened
    }

    /// Applies the log to one version until cancelled; switches it on once a building version catches up.
    private func follow(_ track: Track, name: String) async {
        guard let projection = track.projection else { return }
        do {
            // A first build over an empty (or already applied) log is caught up at once.
            if track.role == .building, try track.position >= log.headPosition() {
                try switchOn(track, name: name)
            }
            // A version still building can be rebuilt from the log, so its commits are not
            // flushed one by one (a process crash loses nothing; after an OS crash it is rebuilt).
            // Switching it on flushes everything and restores durable commits.
            if track.role == .building { try track.store.relaxSync(true) }
            while true {
                do {
                    try await follow(track, projection, from: track.position + 1, name: name)
                    return
                } catch let moved as Track.CheckpointMoved {
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
    /// checkpoint (``Track/CheckpointMoved``).
    private func follow(_ track: Track, _ projection: any Projection, from position: UInt64, name: String) async throws {
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
    private func step(_ track: Track, _ batch: FeedBatch, _ preparation: Result<(any Sendable)?, any Error>, name: String) async throws -> Bool {
        do {
            try await track.apply(batch, prepared: try preparation.get())
        } catch let moved as Track.CheckpointMoved {
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
    private func switchOn(_ track: Track, name: String) throws {
        try track.store.relaxSync(false)
        try ProjectionDirectory(store: log.path, name: name).activate(track.version)
        let others = tracks.withLock { $0[name] ?? [] }.filter { $0 !== track }
        track.setRole(.active)
        for other in others { other.setRole(.retired) }
        logger.info("Projection version switched on", metadata: ["projection": "\(name)", "version": "\(track.version)"])
    }

    // MARK: Reading

    /// Reads the active version of a projection.
    ///
    /// - Throws: ``KirokuError/Code/projectionNotReady`` when the runner has no such projection
    ///   or no version is active yet (the first build has not caught up).
    public func reader(_ name: String) throws -> ProjectionReader {
        guard let track = activeTrack(name) else {
            throw KirokuError(.projectionNotReady, "Projection '\(name)' has no active version yet: it is not registered with this running runner, or its first build has not caught up. Check status().")
        }
        return ProjectionReader(name: name, version: track.version, store: track.store)
    }

    /// Waits until the active version of `name` has applied every record up to `position`
    /// (read-your-writes: append, then wait for the append's position, then read).
    ///
    /// - Throws: ``KirokuError/Code/projectionTimeout``, ``KirokuError/Code/projectionFailed``,
    ///   ``KirokuError/Code/projectionNotReady``.
    public func waitUntil(_ name: String, hasApplied position: UInt64, timeout: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + timeout
        // A first build becomes active only when caught up: wait for that too, within the timeout.
        while activeTrack(name) == nil {
            if let failure = tracks.withLock({ $0[name] ?? [] }).compactMap(\.failure).last {
                throw failure
            }
            guard ContinuousClock.now < deadline else { _ = try reader(name); return }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await activeTrack(name)!.wait(until: position, timeout: deadline - ContinuousClock.now)
    }

    private func activeTrack(_ name: String) -> Track? {
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
        let retired = tracks.withLock { all -> [Track] in
            let retired = (all[name] ?? []).filter { $0.role == .retired }
            all[name] = (all[name] ?? []).filter { $0.role != .retired }
            return retired
        }
        let directory = ProjectionDirectory(store: log.path, name: name)
        for track in retired {
            track.store.close()
            try FileManager.default.removeItem(atPath: directory.versionPath(track.version))
        }
        return retired.map(\.version)
    }
}
