import KirokuFeed
import Foundation
import KirokuLog

/// The latest record of every key (table `latest`: key → JSON ``LatestState/Entry``). Built in,
/// used by tests, docs and the CLI.
public struct LatestState: Projection {
    /// What is kept per key.
    public struct Entry: Codable, Sendable, Hashable {
        /// The record's global position.
        public var position: UInt64
        /// Its version within the key.
        public var version: UInt64
        /// Its event type.
        public var type: String
        /// Its commit timestamp.
        public var timestamp: Date
        /// Its payload bytes.
        public var payload: Data
    }

    /// The projection's name; default `latest-state`.
    public let name: String
    /// Version 1.
    public let version = 1
    /// Which records are kept.
    public let selection: Selection
    /// One table, `latest`.
    public let tables = ["latest"]

    /// Keeps the latest record of every key of `selection`.
    public init(name: String = "latest-state", selection: Selection = .all) {
        self.name = name
        self.selection = selection
    }

    /// Stores the last record of each key in the batch.
    public func apply(_ records: [Record], to state: ProjectionState) throws {
        // Only the last record of each key in the batch is written.
        // Keys by their bytes, as the log stores them.
        var latest: [ExactString: Record] = [:]
        for record in records { latest[ExactString(record.key)] = record }
        for (key, record) in latest {
            // A deleted (or erased) key keeps nothing here.
            if record.deletion != nil {
                try state.delete(key.string, in: "latest")
                continue
            }
            try state.put(Entry(position: record.position, version: record.version, type: record.type,
                                timestamp: record.timestamp, payload: record.payload), key.string, in: "latest")
        }
    }

    /// The latest entry of `key` in a reader of this projection.
    public static func entry(for key: String, in reader: ProjectionReader) throws -> Entry? {
        try reader.get(Entry.self, key, in: "latest")
    }
}
