import Foundation
import Hummingbird
import KirokuLog

extension KirokuRoutes {
    /// `GET /api/records`, `GET /api/records/:position`, `GET /api/keys`.
    func addRecordRoutes(to api: RouterGroup<Context>) {
        let log = log
        // Records of a key (by version), of keys with a prefix, or of the whole log (by
        // position), forward or newest first, a page at a time; `next` continues.
        api.get("records") { request, _ -> Response in
            let query = QueryParameters(request: request)
            let limit = try query.number("limit", Int.self, in: 1...1000) ?? 100
            let reverse = try query.flag("reverse")
            let key = query.string("key"), prefix = query.string("prefix")
            if key != nil, prefix != nil { throw KirokuError(.invalidRequest, "Give key or prefix, not both.") }
            var records: [Record] = []
            var next: UInt64?
            if let key {
                let from = try query.number("version", UInt64.self) ?? (reverse ? UInt64.max : 1)
                records = try log.read(key: key, from: from, direction: reverse ? .backward : .forward, limit: limit)
                if records.count == limit, let last = records.last {
                    next = reverse ? (last.version > 1 ? last.version - 1 : nil) : last.version + 1
                }
            } else {
                // A prefix scans the log: at most 10,000 records per page, so a rare prefix
                // answers in bounded time with a `next` to go on from. Forward pages continue
                // `from` a position; newest-first pages continue `before` one.
                let scanLimit = prefix == nil ? limit : 10_000
                var cursor = reverse ? try query.number("before", UInt64.self) ?? UInt64.max : try query.number("from", UInt64.self) ?? 1
                var scanned = 0
                var more = true
                scan: while records.count < limit, scanned < scanLimit {
                    let size = min(1000, scanLimit - scanned)
                    let batch = reverse ? try log.readAll(before: cursor, limit: size) : try log.readAll(from: cursor, limit: size)
                    for record in batch {
                        scanned += 1
                        cursor = reverse ? record.position : record.position + 1
                        if prefix.map({ record.key.utf8HasPrefix($0) }) ?? true {
                            records.append(record)
                            if records.count == limit { break scan }
                        }
                    }
                    if batch.count < size { more = false; break }
                }
                if more, reverse ? cursor > 1 : true { next = cursor }
            }
            var body: [String: Any] = ["records": records.map { $0.jsonObject() }]
            if let next { body["next"] = next }
            return try JSONBody.response(object: body)
        }
        api.get("records/:position") { _, context -> Response in
            let text = try context.parameters.path("position")
            guard let position = UInt64(text), position > 0 else {
                throw KirokuError(.invalidRequest, "'\(text)' is not a log position; positions are whole numbers from 1.")
            }
            guard let record = try log.record(at: position) else {
                throw KirokuError(.notFound, "No record at position \(position): the head is \(try log.headPosition()) (or it was removed).", position: position)
            }
            return try JSONBody.response(object: record.jsonObject())
        }
        // Keys with a prefix, in byte order, with their current version.
        api.get("keys") { request, _ -> Response in
            let query = QueryParameters(request: request)
            let limit = try query.number("limit", Int.self, in: 1...1000) ?? 100
            let keys = try log.keys(prefix: query.string("prefix") ?? "", after: query.string("after"), limit: limit)
            let rows = try keys.map { KeyRow(key: $0, version: try log.currentVersion(of: $0) ?? 0) }
            return try JSONBody.response(KeyPage(keys: rows, next: keys.count == limit ? keys.last : nil))
        }
    }

    struct KeyRow: Encodable {
        var key: String
        var version: UInt64
    }

    struct KeyPage: Encodable {
        var keys: [KeyRow]
        var next: String?
    }
}
