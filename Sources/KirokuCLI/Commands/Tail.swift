import ArgumentParser
import KirokuFeed
import Foundation
import KirokuLog
import Logging
import ServiceLifecycle

/// `kiroku tail`: follows the log live.
struct Tail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow records live (like kafka-console-consumer) until interrupted.",
        discussion: "With --consumer, the position is checkpointed as records are printed, and the next tail of that consumer resumes after it. One process runs a consumer at a time: a second tail of it waits for the first to stop (or, with --no-wait, exits 2 naming it), and takes over within --lease-seconds (plus a quarter) after the first dies.")

    @Argument(help: "The store directory.") var store: String
    @Option(help: "Only these keys (repeatable).") var key: [String] = []
    @Option(help: "Only keys starting with this prefix.") var prefix: String?
    @Option(help: "Only these event types (repeatable).") var type: [String] = []
    @Option(help: "A named consumer: resume from its checkpoint and checkpoint as records are printed.") var consumer: String?
    @Option(help: "Start at this position, or 'end' (default: end, or the consumer's checkpoint).") var from: String?
    @Option(name: .customLong("lease-seconds"), help: "With --consumer: how long its lease lasts without renewal (default 10).") var leaseSeconds: Double = 10
    @Flag(name: .customLong("no-wait"), help: "With --consumer: fail at once when another process runs it, instead of waiting.") var noWait = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        if !key.isEmpty, prefix != nil { throw CommandExit.input("Give --key or --prefix, not both.") }
        var selection: Selection = prefix.map(Selection.prefix) ?? (key.isEmpty ? .all : .keys(key))
        if !type.isEmpty { selection = selection.types(type) }
        let log = try StoreOpener.open(store)
        defer { log.close() }
        var lease: ConsumerLease?
        if let consumer {
            guard leaseSeconds >= 0.1, leaseSeconds <= 86_400 else { throw CommandExit.input("--lease-seconds must be between 0.1 and 86400.") }
            let taken = try await ConsumerLease(log: log, consumer: consumer, ttl: .milliseconds(Int64(leaseSeconds * 1000)))
            try await taken.acquire(wait: !noWait)
            lease = taken
        }
        // The start is read once the lease is held: the previous holder's last checkpoint.
        let start: FeedStart
        switch from {
        case nil:
            if let consumer, try await Consumers(log: log).checkpoint(of: consumer) != nil { start = .checkpoint(consumer) } else { start = .end }
        case "end"?: start = .end
        case let text?:
            guard let position = UInt64(text) else { throw CommandExit.input("--from \(text) is not valid; use a position or 'end'.") }
            start = .position(position)
        }
        let printer = Printer(feed: EventFeed(log: log, selection: selection, from: start), consumers: try await Consumers(log: log),
                              consumer: consumer, lease: lease, json: output.json)
        // Ctrl-C or SIGTERM stops after the batch being printed is checkpointed, so the next
        // tail of the consumer starts right after the last record printed.
        let group = ServiceGroup(services: [printer], gracefulShutdownSignals: [.sigint, .sigterm],
                                 logger: Logger(label: "kiroku.tail", factory: { _ in SwiftLogNoOpLogHandler() }))
        if let lease {
            try await lease.hold { try await group.run() }
        } else {
            try await group.run()
        }
    }

    /// Prints batches as they commit, checkpointing each, until graceful shutdown.
    struct Printer: Service {
        let feed: EventFeed
        let consumers: Consumers
        let consumer: String?
        let lease: ConsumerLease?
        let json: Bool

        func run() async throws {
            for try await batch in feed.batches.cancelOnGracefulShutdown() {
                for record in batch.records {
                    if json { Output.json(Output.object(record)) } else { print(Output.line(record)) }
                }
                fflush(nil)
                if let consumer { try await consumers.commit(consumer, position: batch.throughPosition, lease: lease) }
            }
        }
    }
}
