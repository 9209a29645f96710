import ArgumentParser
import Foundation
import KirokuLog
import KirokuNATS
import KirokuScaleOut
import Logging
import ServiceLifecycle

/// `--nats` and the settings the relay and the mirror share.
struct NATSOptions: ParsableArguments {
    @Option(help: "NATS servers, comma-separated (nats://host:port); the cluster announces the others.")
    var nats: String = "nats://127.0.0.1:4222"

    @Flag(help: "Stop once caught up with the head (the relay: the log's head when it started; the mirror: the stream's last record when it started), instead of running until interrupted.")
    var exitWhenCaughtUp = false

    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func logger(_ label: String) throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw CommandExit.input("--log-level \(logLevel) is not a level; use trace, debug, info, notice, warning, error or critical.")
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }

    func servers() throws -> [NATSServerURL] {
        do {
            return try NATSServerURL.list(nats)
        } catch let error as KirokuError {
            throw CommandExit.input(error.message)
        }
    }
}

/// Runs `service` until interrupted (SIGINT, SIGTERM) or, with `untilCaughtUp`, until it ends.
private func runService(_ service: some Service, label: String, untilCaughtUp: (@Sendable () async throws -> Void)?) async throws {
    let logger = Logger(label: label)
    guard let untilCaughtUp else {
        try await ServiceGroup(services: [service], gracefulShutdownSignals: [.sigint, .sigterm], logger: logger).run()
        return
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await ServiceGroup(services: [service], gracefulShutdownSignals: [.sigint, .sigterm], logger: logger).run()
        }
        group.addTask { try await untilCaughtUp() }
        defer { group.cancelAll() }
        try await group.next()
    }
}

/// `kiroku relay`: the log to a JetStream stream.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Relay the log to a NATS JetStream stream (stream sequence = log position), until interrupted.",
        discussion: "Creates the stream when missing (subjects kiroku.<store id>.<key>). After any failure it reconnects, reads the stream's last record and resumes after it: every record once, in order. Its lag shows in `kiroku consumers` as relay:<stream>. See docs/SCALE-OUT.md.")

    @Argument(help: "The store directory.") var store: String
    @OptionGroup var natsOptions: NATSOptions
    @Option(help: "The stream's name (default kiroku-<store id>).") var stream: String?
    @Option(help: "Servers that keep the stream, when the relay creates it.") var replicas = 3
    @Option(help: "JetStream's duplicate window in seconds, when the relay creates the stream.") var duplicateWindow = 120.0
    @Option(help: "Publishes awaiting acknowledgement at once.") var window = 512
    @OptionGroup var output: OutputOptions

    func run() async throws {
        guard (1...5).contains(replicas) else { throw CommandExit.input("--replicas \(replicas) is not valid; JetStream keeps a stream on 1 to 5 servers.") }
        guard window >= 1 else { throw CommandExit.input("--window must be at least 1.") }
        guard duplicateWindow > 0 else { throw CommandExit.input("--duplicate-window must be positive (seconds).") }
        let log = try StoreOpener.open(store)
        defer { log.close() }
        var options = RelayOptions(servers: try natsOptions.servers(), stream: stream)
        options.replicas = replicas
        options.duplicateWindow = .nanoseconds(Int64(duplicateWindow * 1e9))
        options.window = window
        let relay = Relay(log: log, options: options, logger: try natsOptions.logger("kiroku.relay"))
        let head = try log.headPosition()
        var caughtUp: (@Sendable () async throws -> Void)?
        if natsOptions.exitWhenCaughtUp {
            caughtUp = { try await relay.waitUntilAcknowledged(head, timeout: .seconds(365 * 86_400)) }
        }
        try await runService(relay, label: "kiroku.relay", untilCaughtUp: caughtUp)
        let status = relay.status
        if let failure = status.failure { throw failure }
        if output.json {
            Output.json(["stream": relay.streamName, "acknowledged": status.acknowledged, "retries": status.retries])
        } else {
            print("Relayed through position \(status.acknowledged) to stream \(relay.streamName) (\(status.retries) retries).")
        }
    }
}

/// `kiroku mirror`: a stream into a read replica.
struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Mirror a relayed stream into a read replica store, until interrupted.",
        discussion: "The store is created when missing and becomes a read replica of the stream's source: the same records at the same positions. It resumes from its own head after any failure or restart. Appends go to the source. See docs/SCALE-OUT.md.")

    @Argument(help: "The replica's store directory.") var store: String
    @OptionGroup var natsOptions: NATSOptions
    @Option(help: "The stream to mirror (the relay's: kiroku-<source store id>).") var stream: String
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try StoreOpener.open(store, create: true)
        defer { log.close() }
        let mirror = Mirror(log: log, options: MirrorOptions(servers: try natsOptions.servers(), stream: stream),
                            logger: try natsOptions.logger("kiroku.mirror"))
        let servers = try natsOptions.servers()
        var caughtUp: (@Sendable () async throws -> Void)?
        if natsOptions.exitWhenCaughtUp {
            let stream = stream
            caughtUp = {
                let last = try await Self.streamEnd(servers: servers, stream: stream)
                try await mirror.waitUntilApplied(last, timeout: .seconds(365 * 86_400))
            }
        }
        try await runService(mirror, label: "kiroku.mirror", untilCaughtUp: caughtUp)
        if let failure = mirror.status.failure { throw failure }
        let head = try log.headPosition()
        if output.json {
            Output.json(["stream": stream, "head": head, "retries": mirror.status.retries])
        } else {
            print("Replica at position \(head) of stream \(stream) (\(mirror.status.retries) retries).")
        }
    }

    /// The stream's last sequence, retried while the cluster elects a leader.
    static func streamEnd(servers: [NATSServerURL], stream: String) async throws -> UInt64 {
        let client = NATSClient(servers: servers)
        var lastError: (any Error)?
        for _ in 0..<20 {
            do {
                let connection = try await client.connect()
                defer { connection.close() }
                guard let info = try await JetStream(connection).streamInfo(stream) else {
                    throw CommandExit.notFound("Stream \(stream) does not exist; start `kiroku relay` on the source store, or check --stream.")
                }
                return info.state.lastSeq
            } catch let exit as CommandExit {
                throw exit
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        throw lastError ?? KirokuError(.natsUnreachable, "No NATS server answered.")
    }
}
