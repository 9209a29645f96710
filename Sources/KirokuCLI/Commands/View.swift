import ArgumentParser
import Foundation
import KirokuLog
import KirokuProjections
import KirokuSearch

/// `kiroku view`: search views defined by JSON mappings.
struct View: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Define and list search views.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Define a search view from a JSON mapping (docs/SEARCH.md) and build it.",
            discussion: "Defining an existing view again builds the new mapping as its next version, blue/green, and switches when it has caught up.")

        @Argument(help: "The store directory.") var store: String
        @Argument(help: "The view's name (a-z, 0-9, '-', '_').") var name: String
        @Option(help: "The mapping file (JSON).") var mapping: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            // The name becomes a directory under the store: check it before anything is written.
            try ProjectionCatalog.validate(name: name)
            guard let data = FileManager.default.contents(atPath: mapping) else { throw CommandExit.input("Cannot read the mapping \(mapping); check the path.") }
            _ = try SearchMapping(json: data)
            let log = try StoreOpener.open(store)
            defer { log.close() }
            let registry = Registry.shared
            if registry.code()[name] != nil { throw CommandExit.input("'\(name)' names a built-in projection; choose another view name.") }
            let catalog = ProjectionCatalog(store: log.path)
            let active = catalog.activeVersion(of: name)
            let version = try catalog.defineSearchView(name, mapping: data)
            var projections = [try registry.projection(name, store: log.path, version: version)]
            if let active { projections.append(try registry.projection(name, store: log.path, version: active)) }
            try await Running.untilActive(log, projections, name: name, version: version, label: "building \(name) v\(version)")
            let head = try log.headPosition()
            if output.json {
                Output.json(["name": name, "version": version, "position": head, "previous": active.map { $0 as Any } ?? NSNull()])
            } else {
                print("View \(name) v\(version) is active at position \(head)" + (active.map { "; v\($0) is retired (prune it with `kiroku projections \(store) prune \(name) \($0)`)." } ?? "."))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the search views: active version, position, lag, fields.")

        @Argument(help: "The store directory.") var store: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let log = try StoreOpener.open(store)
            defer { log.close() }
            let head = try log.headPosition()
            let catalog = ProjectionCatalog(store: log.path)
            var rows: [[String]] = []
            for name in Registry.shared.viewNames(log.path) {
                let checkpoint = try catalog.activeCheckpoint(of: name)
                let active = checkpoint?.version, position = checkpoint?.position
                let view = try Registry.shared.projection(name, store: log.path) as? SearchView
                let fields = view?.mapping.fields.map { "\($0.name):\($0.type.rawValue)" } ?? []
                if output.json {
                    Output.json(["name": name, "active": active.map { $0 as Any } ?? NSNull(), "versions": catalog.versions(of: name),
                                 "position": position.map { $0 as Any } ?? NSNull(), "lag": position.map { head - min(head, $0) as Any } ?? NSNull(),
                                 "fields": fields])
                } else {
                    rows.append([name, active.map { "v\($0)" } ?? "-", position.map { "\($0)" } ?? "-",
                                 position.map { "\(head - min(head, $0))" } ?? "-", fields.joined(separator: " ")])
                }
            }
            if !output.json { Output.table(["VIEW", "ACTIVE", "POSITION", "LAG", "FIELDS"], rows) }
        }
    }
}
