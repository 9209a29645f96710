import Foundation

/// A value behind a lock, shared by Kiroku's modules (package access, not API).
///
/// It plays the part of `Synchronization.Mutex`, with a pthread mutex (`NSLock`) underneath:
/// ThreadSanitizer intercepts pthread mutexes, while `Mutex`'s futex-based lock on Linux lives
/// in the uninstrumented standard library, so under `make test-tsan` every access inside a
/// `Mutex` showed as a race (a 20-line program with four threads appending to a `Mutex<[Int]>`
/// reproduces it at `-Onone` and `-O`; the same program with this type reports nothing).
package final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    /// Puts `value` behind the lock.
    package init(_ value: sending Value) {
        self.value = value
    }

    /// Runs `body` with the value while holding the lock.
    package func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
