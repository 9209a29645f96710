
/// The stores open in this process, by canonical path.
///
/// LMDB must not open one environment twice in a process: closing either handle would drop the
/// other's file locks. So a second open is refused with a clear error instead.
enum OpenStores {
    private static let paths = Locked<Set<String>>([])

    static func claim(_ canonicalPath: String, requestedPath: String) throws {
        let claimed = paths.withLock { $0.insert(canonicalPath).inserted }
        guard claimed else {
            throw KirokuError(.alreadyOpen, "The store at \(requestedPath) is already open in this process; share that EventLog instead of opening it again (or close it first).", path: requestedPath)
        }
    }

    static func release(_ canonicalPath: String) {
        _ = paths.withLock { $0.remove(canonicalPath) }
    }
}
