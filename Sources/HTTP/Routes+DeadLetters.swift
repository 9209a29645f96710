import Foundation
import Hummingbird
import KirokuFeed
import KirokuLog

extension KirokuRoutes {
    /// `GET /api/deadletters[?consumer=NAME&after=P&limit=N]`: dead letters by consumer, then position.
    func addDeadLetterReads(to api: RouterGroup<Context>) {
        let log = log
        api.get("deadletters") { request, _ -> Response in
            let query = QueryParameters(request: request)
            let limit = try query.number("limit", Int.self, in: 1...1000) ?? 100
            let letters = try await DeadLetters(log: log)
            var names = query.string("consumer").map { [$0] } ?? []
            if names.isEmpty { names = try await Consumers(log: log).list().map(\.name) }
            var rows: [DeadLetter] = []
            for name in names where rows.count < limit {
                rows += try letters.list(consumer: name, after: try query.number("after", UInt64.self), limit: limit - rows.count)
            }
            return try JSONBody.response(rows)
        }
    }

    /// `POST /api/deadletters/:consumer/:position/retry|skip`, `POST /api/deadletters/:consumer/purge`.
    func addDeadLetterWrites(to api: RouterGroup<Context>) {
        let log = log
        @Sendable func letter(_ context: Context) throws -> (consumer: String, position: UInt64) {
            let consumer = try context.parameters.path("consumer"), text = try context.parameters.path("position")
            guard let position = UInt64(text) else {
                throw KirokuError(.invalidRequest, "'\(text)' is not a log position; positions are whole numbers from 1.")
            }
            return (consumer, position)
        }
        api.post("deadletters/:consumer/:position/retry") { _, context -> Response in
            let target = try letter(context)
            try await DeadLetters(log: log).retry(consumer: target.consumer, position: target.position)
            return try JSONBody.response(Action(consumer: target.consumer, position: target.position, action: "retry"), status: .accepted)
        }
        api.post("deadletters/:consumer/:position/skip") { _, context -> Response in
            let target = try letter(context)
            try await DeadLetters(log: log).skip(consumer: target.consumer, position: target.position)
            return try JSONBody.response(Action(consumer: target.consumer, position: target.position, action: "skip"))
        }
        api.post("deadletters/:consumer/purge") { _, context -> Response in
            let consumer = try context.parameters.path("consumer")
            let removed = try await DeadLetters(log: log).purge(consumer: consumer)
            return try JSONBody.response(Action(consumer: consumer, action: "purge", purged: removed))
        }
    }

    struct Action: Encodable {
        var consumer: String
        var position: UInt64?
        var action: String
        var purged: Int?
    }
}
