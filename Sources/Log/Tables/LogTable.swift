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
    /// Writes nothing; the whole ``EventLog/write(_:)`` fails with
    /// ``KirokuError/Code/tableConflict`` unless `key` holds exactly `value` (`nil`: is absent).
    /// Put before other writes, it makes them a compare-and-set: another process's write
    /// between the read and this one is noticed, never overwritten.
    case expect(LogTable, key: [UInt8], value: [UInt8]?)

    /// The table written.
    public var table: LogTable {
        switch self {
        case .put(let table, _, _), .delete(let table, _), .expect(let table, _, _): table
        }
    }

    /// The key written or checked.
    var key: [UInt8] {
        switch self {
        case .put(_, let key, _), .delete(_, let key), .expect(_, let key, _): key
        }
    }
}

extension KirokuError.Code {
    /// A table write's ``TableWrite/expect(_:key:value:)`` did not hold: the key changed since
    /// it was read. Read it again and decide again.
    public static let tableConflict = Self("table-conflict")
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
            case .expect(let table, let key, let value):
                let holds = try key.withUnsafeBytes { key -> Bool in
                    let current = try txn.get(table.dbi, key)
                    guard let value else { return current == nil }
                    return current.map { value.elementsEqual($0) } ?? false
                }
                guard holds else {
                    throw KirokuError(.tableConflict, "A write to table '\(table.name)' expected a value that another write changed meanwhile; read it again and write again.")
                }
            }
        }
    }
}
