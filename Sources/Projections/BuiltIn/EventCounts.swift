import KirokuFeed
import KirokuLog

/// Counts records by event type (table `counts`: type → count as UInt64 LE; `*` holds the
/// total). Built in, used by tests, docs and the CLI.
public struct EventCounts: Projection {
    /// The projection's name; default `event-counts`.
    public let name: String
    /// Version 1.
    public let version = 1
    /// Which records are counted.
    public let selection: Selection
    /// One table, `counts`.
    public let tables = ["counts"]

    /// Counts the records of `selection`.
    public init(name: String = "event-counts", selection: Selection = .all) {
        self.name = name
        self.selection = selection
    }

    /// Adds the batch's records to the counts of their types and to `*`.
    public func apply(_ records: [Record], to state: ProjectionState) throws {
        // Types by their bytes, as the log stores them.
        var counts: [ExactString: UInt64] = [:]
        for record in records {
            counts[ExactString(record.type), default: 0] += 1
            counts["*", default: 0] += 1
        }
        for (type, added) in counts {
            let current = try state.bytes(type.string, in: "counts").map(Self.decode) ?? 0
            try state.putBytes(Self.encode(current + added), type.string, in: "counts")
        }
    }

    /// The count of `type` (`"*"` for all) in a reader of this projection.
    public static func count(of type: String, in reader: ProjectionReader) throws -> UInt64 {
        try reader.bytes(type, in: "counts").map(decode) ?? 0
    }

    static func encode(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func decode(_ bytes: [UInt8]) -> UInt64 {
        bytes.count == 8 ? UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }) : 0
    }
}
