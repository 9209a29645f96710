import Foundation
import KirokuTestSupport
import KirokuLog
import Testing





/// Thread-safe collection of what handlers saw.
final class Recorder<Value: Sendable>: @unchecked Sendable {
    // `lock` guards `values`.
    private let lock = NSLock()
    private var values: [Value] = []

    func append(_ value: Value) { lock.withLock { values.append(value) } }
    var all: [Value] { lock.withLock { values } }
    var count: Int { lock.withLock { values.count } }
}
