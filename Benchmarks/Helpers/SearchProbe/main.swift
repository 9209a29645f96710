// Times both search index builds of the search benchmarks in a plain process, without the
// benchmark framework's malloc interposer, which serializes the allocations of the view's two
// threads (see docs/BENCHMARKS.md). Usage: kiroku-search-probe [DOCUMENTS]
import Foundation
import KirokuCLI
import SearchWorkload

let documents = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 1_000_000
let stores = SearchSystems(root: NSTemporaryDirectory() + "kiroku-search-probe-\(documents)", documents: documents)
_ = try await stores.eventLog()
let clock = ContinuousClock()
var start = clock.now
try await stores.buildView()
let kiroku = clock.now - start
stores.stopView()
start = clock.now
try stores.buildSQLite()
let sqlite = clock.now - start
func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
let result: [String: Any] = ["documents": documents, "kirokuSeconds": seconds(kiroku), "sqliteSeconds": seconds(sqlite)]
print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
try? FileManager.default.removeItem(atPath: stores.root)
