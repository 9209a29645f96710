import CLMDB

/// A named table in the log's LMDB environment, for the layers built on the log (consumer
/// checkpoints, dead letters). Its writes go through the log's writer, so they commit in the
/// same transactions as appends (group commit) and never race them.
public struct LogTable: Sendable, Hashable {
    /// The table's name, unique within the store.
    public let name: String
    let dbi: MDB_dbi
}

/// One change to a ``LogTable``.
public enum TableWrite: Sendable, Hashable {
    /// Stores `value` under `key`, replacing what was there.
    case put(LogTable, key: [UInt8], value: [UInt8])
    /// Removes `key` (nothing happens when it is absent).
    case delete(LogTable, key: [UInt8])

    /// The table written.
    public var table: LogTable {
        switch self {
        case .put(let table, _, _), .delete(let table, _): table
        }
    }
}

/// Applies table writes inside the writer's transaction.
enum TableWriter {
    static func apply(_ writes: [TableWrite], in txn: Transaction) throws {
        for write in writes {
            switch write {
            case .put(let table, let key, let value):
                try key.withUnsafeBytes { key in try value.withUnsafeBytes { try txn.put(table.dbi, key, $0) } }
            case .delete(let table, let key):
                try key.withUnsafeBytes { try txn.delete(table.dbi, $0) }
            }
        }
    }
}
