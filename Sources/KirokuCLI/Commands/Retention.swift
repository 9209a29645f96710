import ArgumentParser
import Foundation
import KirokuLog

/// `kiroku retention`: the store's retention policies, and enforcing them.
struct Retention: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, add, clear and run the store's retention policies (age, count per key, compaction, size).",
        discussion: """
        kiroku retention <store> show [--json]
        kiroku retention <store> add --max-age 30d [--prefix P] [--types A,B]   (with --types: erase old payloads)
        kiroku retention <store> add --max-count-per-key N [--prefix P]
        kiroku retention <store> add --compact [--prefix P]                     (the latest record per key)
        kiroku retention <store> add --max-bytes 10G | --max-records N          (the whole log)
        kiroku retention <store> clear
        kiroku retention <store> run [--step 10000]                             (in steps; appends go on)
        Ages take s, m, h, d; sizes K, M, G. A feed behind what an age, size or count removed gets
        position-removed; one behind a compaction skips the superseded records.
        """)

    enum Action: String, ExpressibleByArgument, CaseIterable { case show, add, clear, run }

    @Argument(help: "The store directory.") var store: String
    @Argument(help: "show, add, clear or run.") var action: Action
    @Option(help: "add: remove records older than this (30d, 12h, 90m, 3600s).") var maxAge: String?
    @Option(help: "add: keep each key's latest N versions.") var maxCountPerKey: Int?
    @Flag(help: "add: keep only each key's latest record.") var compact = false
    @Option(help: "add: the whole log at most this size (512M, 10G).") var maxBytes: String?
    @Option(help: "add: the whole log at most this many records.") var maxRecords: Int?
    @Option(help: "add: only keys with this prefix (bytes).") var prefix: String?
    @Option(help: "add: with --max-age, erase these types' old payloads (comma-separated).") var types: String?
    @Option(help: "run: records per step (one write transaction each).") var step = 10_000
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        switch action {
        case .show:
            let policies = try log.retention()
            if output.json {
                for policy in policies { try Output.encoded(policy) }
            } else if policies.isEmpty {
                print("No retention policies: the log keeps everything.")
            } else {
                for (index, policy) in policies.enumerated() { print("\(index + 1). \(policy.summary)") }
            }
        case .add:
            let policy = try parsePolicy()
            try await log.setRetention(try log.retention() + [policy])
            if output.json { try Output.encoded(policy) } else { print("Added: \(policy.summary). Apply it with: kiroku retention \(store) run") }
        case .clear:
            try await log.setRetention([])
            if !output.json { print("Cleared the retention policies.") }
        case .run:
            guard step > 0 else { throw CommandExit.input("--step must be at least 1.") }
            let start = ContinuousClock.now
            let report = try await log.enforceRetention(stepSize: step)
            let seconds = (ContinuousClock.now - start).seconds
            let statistics = try log.statistics()
            if output.json {
                Output.json(["removed": report.removed, "erased": report.erased, "steps": report.steps, "seconds": seconds,
                             "firstPosition": statistics.firstPosition, "removedThrough": statistics.removedThrough, "freeBytes": statistics.freeBytes])
            } else {
                print("Removed \(report.removed) records and erased \(report.erased) payloads in \(report.steps) steps (\(String(format: "%.1f", seconds)) s); the log starts at position \(statistics.firstPosition), \(statistics.freeBytes / 1_048_576) MiB free (kiroku backup --compact leaves it out).")
            }
        }
    }

    private func parsePolicy() throws -> RetentionPolicy {
        let given = [maxAge != nil, maxCountPerKey != nil, compact, maxBytes != nil, maxRecords != nil].filter { $0 }.count
        guard given == 1 else { throw CommandExit.input("add takes one rule: --max-age, --max-count-per-key, --compact, --max-bytes or --max-records.") }
        let typeList = types.map { $0.split(separator: ",").map(String.init) }
        let rule: RetentionPolicy.Rule
        if let maxAge {
            guard let seconds = Self.seconds(maxAge) else { throw CommandExit.input("--max-age '\(maxAge)' is not an age: write 30d, 12h, 90m or 3600s.") }
            rule = .maxAge(seconds: seconds)
        } else if let maxCountPerKey {
            rule = .maxCountPerKey(maxCountPerKey)
        } else if compact {
            rule = .maxCountPerKey(1)
        } else if let maxBytes {
            guard let bytes = Self.bytes(maxBytes) else { throw CommandExit.input("--max-bytes '\(maxBytes)' is not a size: write 512M, 10G or a number of bytes.") }
            rule = .maxBytes(bytes)
        } else {
            rule = .maxRecords(maxRecords!)
        }
        return RetentionPolicy(rule: rule, prefix: prefix, types: typeList)
    }

    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        guard let last = text.last, let unit = units[last], let value = Double(text.dropLast()), value > 0 else { return Double(text).flatMap { $0 > 0 ? $0 : nil } }
        return value * unit
    }

    static func bytes(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        guard let last = text.uppercased().last, let unit = units[last], let value = Int(text.dropLast()), value > 0 else { return Int(text).flatMap { $0 > 0 ? $0 : nil } }
        return value * unit
    }
}
