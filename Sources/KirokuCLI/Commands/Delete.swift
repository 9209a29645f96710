import ArgumentParser
import Foundation
import KirokuLog

/// `kiroku delete`: delete a key (soft or hard), or truncate its history before a version.
struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a key (its history hidden at once and removed in steps), or truncate it before a version.",
        discussion: """
        kiroku delete <store> --key K            soft: the key may be written again, its versions go on
        kiroku delete <store> --key K --hard     a tombstone: appends to the key fail with key-deleted
        kiroku delete <store> --key K --before V versions below V are hidden and removed; the latest stays
        Feeds deliver a deletion marker (type $deleted or $tombstone); views drop the key's documents.
        To remove the key's bytes from every file, use kiroku erase.
        """)

    @Argument(help: "The store directory.") var store: String
    @Option(help: "The key (its exact bytes).") var key: String
    @Flag(help: "A hard delete: the key can never be written again.") var hard = false
    @Option(help: "Truncate: hide and remove the versions below this one instead of deleting the key.") var before: UInt64?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        if hard && before != nil { throw CommandExit.input("--hard and --before do not go together: delete the key, or truncate it.") }
        let log = try StoreOpener.open(store)
        defer { log.close() }
        if let before {
            try await log.truncate(key: key, before: before)
            let report = try await log.finishPendingRemovals()
            if output.json {
                Output.json(["key": key, "truncatedBefore": before, "removed": report.removed])
            } else {
                print("Key '\(key)' reads from version \(max(before, 1)) on (its latest always stays); \(report.removed) records removed.")
            }
            return
        }
        let marker = try await log.delete(key: key, mode: hard ? .hard : .soft)
        guard let marker else {
            if output.json { Output.json(["key": key, "deleted": false]) } else { print("Key '\(key)' has nothing to delete (no events, or already deleted).") }
            return
        }
        let report = try await log.finishPendingRemovals()
        if output.json {
            Output.json(["key": key, "deleted": true, "hard": hard, "position": marker.position, "version": marker.version, "removed": report.removed])
        } else {
            print("Deleted key '\(key)'\(hard ? " for good" : "") (marker at position \(marker.position), version \(marker.version)); \(report.removed) records removed.")
        }
    }
}
