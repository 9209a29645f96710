import Foundation
import KirokuFeed
import KirokuLog
import KirokuProjections
import KirokuSearch
import ServiceLifecycle

/// What the pipeline behind a log looks like now and over the last minutes: the head, each
/// consumer and each projection version with position, lag and rate, and a history of samples
/// for the console's plots. Run it (it is a `Service`) to sample every `interval`; asked
/// without running, it samples when asked.
///
/// A projection version that is behind and has not moved for `stallAfter` is stalled; the
/// monitor remembers when each one last moved, so it tells that also for a projection run by
/// another process (`kiroku serve` beside a service).
public final class PipelineMonitor: Service, Sendable {
    /// One consumer now.
    public struct Consumer: Sendable, Codable, Hashable {
        public var name: String
        public var position: UInt64
        public var lagRecords: UInt64
        public var lagSeconds: Double
        /// Records handled per second over the last samples.
        public var rate: Double
        /// `ok`, `stalled` or `dead-letters` (it holds failed dead letters).
        public var status: String
        /// When its checkpoint last moved.
        public var lastProgress: Date
        /// The process holding its lease, when one does.
        public var holder: String?
        /// Dead letters left failed, and those held behind them (`holdKey`).
        public var failedDeadLetters: Int
        public var heldDeadLetters: Int
        /// The failed dead letter with the lowest position, when there is one.
        public var firstFailedDeadLetter: PipelineHealth.Letter?
    }

    /// One version of a projection now.
    public struct Projection: Sendable, Codable, Hashable {
        public var name: String
        public var version: Int
        /// `active`, `building`, `retired` or `failed`.
        public var state: String
        public var position: UInt64
        public var lag: UInt64
        /// Age of the oldest record it has not applied; 0 when caught up.
        public var lagSeconds: Double
        /// Records applied per second over the last samples.
        public var rate: Double
        /// Whether it is behind and has not moved for the stall time.
        public var stalled: Bool
        /// When its position last moved (as this monitor saw it).
        public var lastProgress: Date
        /// What stopped a failed version.
        public var error: String?
        /// Whether this server is rebuilding it.
        public var rebuilding: Bool
    }

    /// One sample of the history: the head and every lag.
    public struct Sample: Sendable, Codable, Hashable {
        public var time: Date
        public var head: UInt64
        /// Consumer name → lag in records.
        public var consumers: [String: UInt64]
        /// `name/vN` → lag in records.
        public var projections: [String: UInt64]
    }

    /// The pipeline now, with its history (oldest first).
    public struct Snapshot: Sendable, Codable, Hashable {
        public var time: Date
        public var head: UInt64
        /// Records appended per second over the last samples.
        public var appendRate: Double
        public var keys: UInt64
        public var fileBytes: UInt64
        /// Records removed by deletions and retention.
        public var removedRecords: UInt64
        public var consumers: [Consumer]
        public var projections: [Projection]
        public var history: [Sample]
    }

    /// The log watched.
    public let log: EventLog
    private let runner: ProjectionRunner?
    private let code: [any KirokuProjections.Projection]
    private let stallAfter: Duration
    private let interval: Duration
    private let capacity: Int
    let rebuilds: Rebuilds
    private let state = Locked(State())

    private struct State {
        var samples: [Sample] = []
        /// `name/vN` → (position, when it was first seen there).
        var moved: [String: (position: UInt64, since: Date)] = [:]
        /// Positions at past sample times, for rates: time → name → position.
        var positions: [(time: Date, head: UInt64, consumers: [String: UInt64], projections: [String: UInt64])] = []
    }

    /// A monitor of `log`. `runner`: the service's projection runner (its versions are read from
    /// it, with their failures); `projections`: projections defined in code (besides the
    /// built-in ones and the store's search views). Samples every `interval`, keeps `history`.
    public init(log: EventLog, runner: ProjectionRunner? = nil, projections: [any KirokuProjections.Projection] = [],
                stallAfter: Duration = .seconds(60), interval: Duration = .seconds(1), history: Duration = .seconds(600)) {
        self.log = log
        self.runner = runner
        self.code = projections
        self.stallAfter = stallAfter
        self.interval = interval
        self.capacity = max(1, Int(history / interval))
        self.rebuilds = Rebuilds()
    }

    /// Samples every `interval` until cancelled or graceful shutdown.
    public func run() async throws {
        defer { rebuilds.cancelAll() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                _ = try? await self.snapshot()
                do { try await Task.sleep(for: self.interval) } catch { break }
            }
        }
    }

    /// The pipeline now; records a sample (at most one per half `interval`).
    public func snapshot(now: Date = Date()) async throws -> Snapshot {
        let statistics = try log.statistics()
        let head = statistics.headPosition
        let consumers = try await consumerRows(now: now)
        let projections = try projectionRows(head: head, now: now)
        return state.withLock { state in
            let recordSample = state.samples.last.map { now.timeIntervalSince($0.time) >= interval.seconds / 2 } ?? true
            if recordSample {
                state.samples.append(Sample(time: now, head: head,
                                            consumers: Dictionary(consumers.map { ($0.name, $0.lagRecords) }, uniquingKeysWith: { a, _ in a }),
                                            projections: Dictionary(projections.map { ("\($0.name)/v\($0.version)", $0.lag) }, uniquingKeysWith: { a, _ in a })))
                state.positions.append((now, head, Dictionary(consumers.map { ($0.name, $0.position) }, uniquingKeysWith: { a, _ in a }),
                                        Dictionary(projections.map { ("\($0.name)/v\($0.version)", $0.position) }, uniquingKeysWith: { a, _ in a })))
                if state.samples.count > capacity { state.samples.removeFirst(state.samples.count - capacity) }
                if state.positions.count > 6 { state.positions.removeFirst(state.positions.count - 6) }
            }
            // Rates over the last samples (up to five intervals back).
            let base = state.positions.first
            let span = base.map { now.timeIntervalSince($0.time) } ?? 0
            func rate(_ now: UInt64, _ then: UInt64?) -> Double {
                guard span > 0.2, let then else { return 0 }
                return Double(now &- min(now, then)) / span
            }
            var snapshot = Snapshot(time: now, head: head, appendRate: rate(head, base?.head), keys: UInt64(statistics.keys),
                                    fileBytes: UInt64(max(0, statistics.fileBytes)), removedRecords: UInt64(statistics.removedRecords), consumers: consumers, projections: projections, history: state.samples)
            for i in snapshot.consumers.indices {
                snapshot.consumers[i].rate = rate(snapshot.consumers[i].position, base?.consumers[snapshot.consumers[i].name])
            }
            for i in snapshot.projections.indices {
                let id = "\(snapshot.projections[i].name)/v\(snapshot.projections[i].version)"
                if snapshot.projections[i].rate > 0 { continue }
                snapshot.projections[i].rate = rate(snapshot.projections[i].position, base?.projections[id])
            }
            return snapshot
        }
    }

    private func consumerRows(now: Date) async throws -> [Consumer] {
        let consumers = try await Consumers(log: log)
        let letters = try await DeadLetters(log: log)
        var rows: [Consumer] = []
        for consumer in try consumers.list(now: now) {
            let lease = try await ConsumerLease.holder(of: consumer.name, in: log)
            let listed = try letters.list(consumer: consumer.name, after: nil, limit: 1000)
            let failed = listed.filter { $0.state == .failed }.count
            rows.append(Consumer(name: consumer.name, position: consumer.position, lagRecords: consumer.lagRecords,
                                 lagSeconds: consumer.lagSeconds, rate: 0,
                                 status: consumer.isStalled ? "stalled" : failed > 0 ? "dead-letters" : "ok",
                                 lastProgress: consumer.lastProgress,
                                 holder: lease.flatMap { $0.expiresAt > now ? $0.holder : nil },
                                 failedDeadLetters: failed, heldDeadLetters: listed.filter { $0.state == .held }.count,
                                 firstFailedDeadLetter: listed.first { $0.state == .failed }.map {
                                     PipelineHealth.Letter(position: $0.position, key: $0.key, error: $0.error, holdsKey: $0.holdsKey)
                                 }))
        }
        return rows
    }

    private func projectionRows(head: UInt64, now: Date) throws -> [Projection] {
        let catalog = ProjectionCatalog(store: log.path)
        let running = try runner?.status() ?? []
        var rows: [Projection] = []
        // Also the projections on disk that only another process knows (a service's own).
        for name in Set(catalog.names()).union(catalog.knownNames(code: code)).sorted() {
            let active = catalog.activeVersion(of: name)
            let rebuild = rebuilds.last(name)
            let inRunner = running.filter { $0.name == name }
            let versions = Set(catalog.versions(of: name)).union(inRunner.map(\.version)).sorted()
            for version in versions {
                let id = "\(name)/v\(version)"
                var position: UInt64
                var stateName = version == active ? "active" : (active.map { version < $0 } ?? false) ? "retired" : "building"
                var error: String?
                var rate = 0.0
                if let status = inRunner.first(where: { $0.version == version }) {
                    position = status.position
                    stateName = status.state.rawValue
                    error = status.error
                    rate = status.rate
                } else if let rebuild, rebuild.running, rebuild.version == version {
                    position = rebuild.position
                } else if let rebuild, rebuild.running {
                    // Open in this process by the rebuild: keep what was last seen.
                    position = state.withLock { $0.moved[id]?.position } ?? 0
                } else {
                    do {
                        position = try ViewFiles.readingNow { try catalog.checkpoint(of: name, version: version) }
                    } catch let failure as KirokuError where failure.code == .alreadyOpen {
                        position = state.withLock { $0.moved[id]?.position } ?? 0
                    }
                }
                let since: Date = state.withLock { state in
                    if let seen = state.moved[id], seen.position == position { return seen.since }
                    state.moved[id] = (position, now)
                    return now
                }
                if let rebuild, !rebuild.running, rebuild.version == version, let failure = rebuild.error, version != active {
                    stateName = "failed"
                    error = failure
                }
                let lag = head &- min(head, position)
                var lagSeconds = 0.0
                if lag > 0, let oldest = try log.record(at: position + 1) { lagSeconds = max(0, now.timeIntervalSince(oldest.timestamp)) }
                let stalled = stateName != "retired" && stateName != "failed" && lag > 0 && now.timeIntervalSince(since) > stallAfter.seconds
                rows.append(Projection(name: name, version: version, state: stateName, position: position, lag: lag,
                                       lagSeconds: lagSeconds, rate: rate,
                                       stalled: stalled, lastProgress: since, error: error,
                                       rebuilding: rebuild?.running == true && rebuild?.version == version))
            }
        }
        return rows
    }
}

/// The rebuilds an HTTP server runs, one per projection at a time, and how far each is.
final class Rebuilds: Sendable {
    struct Progress: Sendable, Hashable {
        var version: Int
        var position: UInt64
        var error: String?
        var running: Bool
    }

    private let state = Locked<[String: Progress]>([:])
    private let tasks = Locked<[String: Task<Void, Never>]>([:])

    /// Keeps the task running `name`'s rebuild, to cancel it when the server stops.
    func track(_ name: String, _ task: Task<Void, Never>) {
        tasks.withLock { $0[name] = task }
    }

    /// Cancels the rebuilds still running (the server stops); an unfinished rebuild resumes
    /// the next time it is asked for.
    func cancelAll() {
        for task in tasks.withLock({ $0.values }) { task.cancel() }
    }

    /// The last rebuild of `name` (running, finished or failed).
    func last(_ name: String) -> Progress? { state.withLock { $0[name] } }

    /// Claims `name` for a rebuild of `version`; `false` when one runs.
    func start(_ name: String, version: Int) -> Bool {
        state.withLock { all in
            if all[name]?.running == true { return false }
            all[name] = Progress(version: version, position: 0, error: nil, running: true)
            return true
        }
    }

    func update(_ name: String, position: UInt64) {
        state.withLock { $0[name]?.position = position }
    }

    func finish(_ name: String, error: String?) {
        state.withLock { all in
            all[name]?.running = false
            all[name]?.error = error
        }
    }
}
