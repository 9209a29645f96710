import ArgumentParser
import Foundation
import KirokuLog
import KirokuProjections

/// `kiroku erase`: erase a key's payloads from the log, the views and later backups.
struct Erase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erase a key: its payloads and metadata leave the log's file and every view's file; the envelopes stay.",
        discussion: """
        The records of the key are rewritten without payload and metadata (positions stay gapless, verify stays
        clean), an erasure marker is appended (type $erased), freed pages are zeroed, and every projection this
        command can run (the built-in ones and JSON views) catches up through the marker, dropping the key's
        documents and zeroing its own freed pages. A projection whose code only a service has applies the marker
        when the service runs it. Backups made afterwards hold none of the key's bytes.
        """)

    @Argument(help: "The store directory.") var store: String
    @Option(help: "The key (its exact bytes).") var key: String
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        let report = try await log.erase(key: key)
        let (caughtUp, elsewhere) = try await Self.catchUpProjections(log)
        if output.json {
            Output.json(["key": key, "erased": report.marker != nil, "records": report.records, "position": report.marker?.position as Any? ?? NSNull(),
                         "pagesScrubbed": report.scrub.pagesScrubbed, "pagesPending": report.scrub.pagesPending,
                         "projections": caughtUp, "projectionsElsewhere": elsewhere])
            return
        }
        guard let marker = report.marker else {
            print("Key '\(key)' has no events to erase.")
            return
        }
        print("Erased key '\(key)': \(report.records) records emptied (marker at position \(marker.position)), \(report.scrub.pagesScrubbed) free pages zeroed.")
        if report.scrub.pagesPending > 0 {
            print("\(report.scrub.pagesPending) freed pages are still read by a reader's snapshot (another process); run kiroku erase again, or reopen that process, to zero them.")
        }
        if !caughtUp.isEmpty { print("Projections caught up and scrubbed: \(caughtUp.joined(separator: ", ")).") }
        if !elsewhere.isEmpty { print("Projections whose code is not in this command (their service applies the erasure when it runs them): \(elsewhere.joined(separator: ", ")).") }
    }

    /// Runs every active projection version this process has code for through the head.
    static func catchUpProjections(_ log: EventLog) async throws -> (caughtUp: [String], elsewhere: [String]) {
        let catalog = ProjectionCatalog(store: log.path)
        var projections: [any Projection] = []
        var caughtUp: [String] = []
        var elsewhere: [String] = []
        for name in catalog.names() {
            guard let active = catalog.activeVersion(of: name) else { continue }
            if let projection = try? Registry.shared.projection(name, store: log.path, version: active) {
                projections.append(projection)
                caughtUp.append(name)
            } else {
                elsewhere.append(name)
            }
        }
        guard !projections.isEmpty else { return ([], elsewhere) }
        let head = try log.headPosition()
        let runner = ProjectionRunner(log: log, projections: projections, batchSize: 5000)
        let running = Task { try await runner.run() }
        defer { running.cancel() }
        for name in caughtUp { try await runner.waitUntil(name, hasApplied: head, timeout: .seconds(3600)) }
        running.cancel()
        _ = try? await running.value
        return (caughtUp, elsewhere)
    }
}
