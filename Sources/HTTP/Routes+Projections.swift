import Foundation
import Hummingbird
import KirokuLog
import KirokuProjections
import KirokuSearch

extension KirokuRoutes {
    /// `GET /api/projections`: every version of every projection, with a rebuild's progress.
    func addProjectionReads(to api: RouterGroup<Context>) {
        let monitor = monitor
        api.get("projections") { _, _ -> Response in
            try JSONBody.response(try await monitor.snapshot().projections)
        }
    }

    /// `POST /api/projections/:name/rebuild[?prune=true]` (202: runs in this server; its
    /// progress shows in `GET /api/projections`), `POST /api/projections/:name/switch?version=N`,
    /// `POST /api/projections/:name/prune?version=N`.
    func addProjectionWrites(to api: RouterGroup<Context>) {
        let log = log, monitor = monitor, options = options
        let catalog = ProjectionCatalog(store: log.path)
        /// A projection this server may change: known, not run by the service's runner here, not
        /// being rebuilt here.
        @Sendable func changeable(_ context: Context) throws -> String {
            let name = try context.parameters.path("name")
            _ = try catalog.projection(name, code: options.projections)
            if options.runner?.projectionNames.contains(name) == true {
                throw KirokuError(.alreadyOpen, "This process runs '\(name)' in its ProjectionRunner, which keeps its versions open; deploy its next version in the service (the runner builds it blue/green), or run `kiroku projections rebuild` with the service stopped.")
            }
            if monitor.rebuilds.last(name)?.running == true {
                throw KirokuError(.rebuildRunning, "A rebuild of '\(name)' is running in this server; wait for it (GET /api/projections shows its progress).")
            }
            return name
        }
        @Sendable func version(_ request: Request, of name: String) throws -> Int {
            guard let version = try QueryParameters(request: request).number("version", Int.self) else {
                throw KirokuError(.invalidRequest, "Give the version: ?version=N (GET /api/projections lists them).")
            }
            guard catalog.versions(of: name).contains(version) else {
                throw KirokuError(.projectionNotFound, "Projection '\(name)' has no version \(version) on disk; its versions are \(catalog.versions(of: name).map { "v\($0)" }.joined(separator: ", ")).")
            }
            return version
        }
        api.post("projections/:name/rebuild") { request, context -> Response in
            let name = try changeable(context)
            let prune = try QueryParameters(request: request).flag("prune")
            let target = try catalog.rebuildTarget(of: name, code: options.projections)
            guard monitor.rebuilds.start(name, version: target) else {
                throw KirokuError(.rebuildRunning, "A rebuild of '\(name)' is running in this server; wait for it (GET /api/projections shows its progress).")
            }
            let rebuilds = monitor.rebuilds
            rebuilds.track(name, Task {
                do {
                    try await catalog.rebuild(name, log: log, code: options.projections, prune: prune) { _, position, _ in
                        rebuilds.update(name, position: position)
                    }
                    rebuilds.finish(name, error: nil)
                } catch {
                    rebuilds.finish(name, error: (error as? KirokuError)?.description ?? "\(error)")
                }
            })
            return try JSONBody.response(Rebuilding(name: name, version: target, state: "building", prune: prune), status: .accepted)
        }
        api.post("projections/:name/switch") { request, context -> Response in
            let name = try changeable(context)
            let chosen = try version(request, of: name)
            try catalog.activate(name, version: chosen)
            return try JSONBody.response(Rebuilding(name: name, version: chosen, state: "active"))
        }
        api.post("projections/:name/prune") { request, context -> Response in
            let name = try changeable(context)
            let chosen = try version(request, of: name)
            try catalog.remove(name, version: chosen)
            return try JSONBody.response(Rebuilding(name: name, version: chosen, state: "pruned"))
        }
    }

    struct Rebuilding: Encodable {
        var name: String
        var version: Int
        var state: String
        var prune: Bool?
    }
}
