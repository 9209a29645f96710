import Foundation
import KirokuLog
import KirokuProjections

/// Runs a ``SearchRequest`` in one read transaction of a view: evaluate, order, page, facet,
/// then load the page's stored fields and snippets.
enum SearchExecution {
    static func run(_ request: SearchRequest, in store: KeyValueStore, join: (SearchJoin, JoinSide)? = nil) throws -> SearchResults {
        guard (1...10_000).contains(request.limit) else {
            throw KirokuError(.invalidQuery, "Invalid query: limit is \(request.limit); ask for 1 to 10000 hits per page and page with the next cursor.")
        }
        return try store.read { txn in
            let fields = try IndexStats.schema(txn) ?? []
            let query: SearchQuery
            switch request.query {
            case .text(let text): query = try QueryParser.parse(text, fields: fields.isEmpty ? nil : fields)
            case .built(let built): query = built
            }
            guard !fields.isEmpty else { return SearchResults(total: 0, hits: [], facets: [:], next: nil) }
            let after = try request.after.map { try Cursor(decoding: $0) }
            // Later pages score with the first page's statistics (see ScoringSnapshot).
            let executor = try QueryExecutor(txn: txn, fields: fields, stats: try IndexStats(txn), scoring: after?.scoring)
            var matches = try executor.evaluate(query)
            // A join keeps the hits B's matches point at, and may order them by what B gave.
            var joined: [UInt32: SearchJoinMatch] = [:]
            if let (join, side) = join {
                if join.orderBy != nil, request.sort != nil {
                    throw SearchSchema.invalid("a join ordered by its \(join.orderBy == .count ? "count" : "metric") takes no sort; give one or the other")
                }
                if let local = join.localField {
                    let (field, declared) = try executor.schema.resolve(local)
                    guard declared.type == .keyword else { throw SearchSchema.invalid("the join's local field '\(local)' is a \(declared.type.rawValue) field; give a keyword field") }
                    try executor.values.forEachKeywords(field, of: matches.docs) { i, keys in
                        let match = side.match(keys)
                        if match.count > 0 { joined[matches.docs[i]] = match }
                    }
                } else {
                    // A's documents by id: B's distinct values looked up in A's id table.
                    for key in side.values.keys {
                        let id = String(decoding: key, as: UTF8.self)
                        guard let bytes = try txn.get(IndexKey.id(id), in: SearchTables.ids) else { continue }
                        let doc = bytes.withUnsafeBytes { IndexKey.readDoc($0, at: 0) }
                        if key.count > 400 {
                            // A long id is hashed in the key: check the document's own.
                            let stored = try txn.withValue(IndexKey.doc(doc), in: SearchTables.docs) { $0.map(StoredDocument.init(decoding:)) }
                            guard stored?.id.utf8Equals(id) == true else { continue }
                        }
                        joined[doc] = side.match([key])
                    }
                }
                var kept = DocScores()
                for (doc, score) in zip(matches.docs, matches.scores) {
                    guard let match = joined[doc], match.count >= max(1, join.minCount) else { continue }
                    kept.docs.append(doc)
                    switch join.orderBy {
                    case nil: kept.scores.append(score)
                    case .count?: kept.scores.append(Float(join.descending ? match.count : -match.count))
                    case .metric?:
                        let value = match.metric.map { join.descending ? $0 : -$0 } ?? -.greatestFiniteMagnitude
                        kept.scores.append(Float(value))
                    }
                }
                matches = kept
            }
            let order = try Order(request.sort, schema: executor.schema)

            let facetFields = try request.facets.map { name -> Int in
                let (index, field) = try executor.schema.resolve(name)
                guard field.type == .keyword else {
                    throw SearchSchema.invalid("'\(name)' is a \(field.type.rawValue) field; facets count keyword fields")
                }
                return index
            }
            let page = try order.page(of: matches, values: executor.values, keyword: order.field.map { fields[$0].type == .keyword } ?? false,
                                      after: after?.position, count: request.limit + 1)
            let more = page.count > request.limit
            // What each text field highlights depends on the query only: analyzed once.
            let highlights: [(index: Int, terms: Snippet)] = request.snippets
                ? fields.indices.filter { fields[$0].type == .text }
                    .map { ($0, Snippet.terms(of: query, field: fields[$0].name, analyzer: executor.analyzer($0))) }
                    .filter { !$0.terms.isEmpty }
                : []
            var hits: [SearchHit] = []
            for (key, doc) in page.prefix(request.limit) {
                try txn.withValue(IndexKey.doc(doc), in: SearchTables.docs) { bytes in
                    guard let bytes else { return }
                    let stored = StoredDocument(decoding: bytes)
                    var values: [String: FieldValue] = [:]
                    for (index, value) in stored.values { values[fields[index].name] = value }
                    var snippet: String?
                    for (index, terms) in highlights where snippet == nil {
                        guard case .text(let text)? = stored.values[index] else { continue }
                        snippet = terms.highlight(text, analyzer: executor.analyzer(index))
                    }
                    let score: Double = if case .score(let s) = key { Double(s) } else { Double(matches.score(of: doc)) }
                    var hit = SearchHit(id: stored.id, score: score, fields: values, snippet: snippet)
                    if let (join, _) = join {
                        hit.join = joined[doc]
                        // Ordered by the join: the score is the value it is ordered by.
                        switch join.orderBy {
                        case .count?: hit.score = Double(hit.join?.count ?? 0)
                        case .metric?: hit.score = hit.join?.metric ?? 0
                        case nil: break
                        }
                    }
                    hits.append(hit)
                }
            }
            let next = more ? page.prefix(request.limit).last.map { Cursor(position: ($0.key, $0.doc), scoring: executor.scoring.recorded).encoded() } : nil
            var facets: [String: [FacetCount]] = [:]
            for (name, index) in zip(request.facets, facetFields) {
                facets[name] = try executor.values.facetCounts(index, matches.docs)
                    .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.lexicographicallyPrecedes($1.key) }
                    .prefix(max(0, request.facetSize))
                    .map { FacetCount(value: String(decoding: $0.key, as: UTF8.self), count: $0.value) }
            }
            let aggregations = try AggregationExecution(values: executor.values, schema: executor.schema)
                .run(request.aggregations, docs: matches.docs)
            return SearchResults(total: matches.count, hits: hits, facets: facets, next: next, aggregations: aggregations)
        }
    }
}
