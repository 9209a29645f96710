import KirokuLog

enum ConsumerName {
    /// Checks a consumer name: 1 to 200 UTF-8 bytes, no NUL (dead-letter keys use NUL as separator).
    static func validate(_ name: String) throws {
        let bytes = name.utf8.count
        guard bytes > 0, bytes <= 200, !name.utf8.contains(0) else {
            throw KirokuError(.invalidConsumerName, "'\(name.prefix(40))' cannot name a consumer: use 1 to 200 UTF-8 bytes without NUL, such as \"search-indexer\".")
        }
    }
}
