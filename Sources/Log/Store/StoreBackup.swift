import Foundation

/// Backups: a consistent copy of an environment (LMDB's `mdb_env_copy2`, as of one read
/// transaction, while writers go on) into a directory checked first, for the log
/// (``EventLog/backup(to:compact:)``) and for any state store (``KeyValueStore/backup(to:compact:)``).
package enum StoreBackup {
    /// Creates `directory` (0700) when missing. An existing one must not hold a store, and with
    /// `mustBeEmpty` (a whole store's backup, `kiroku backup`) must hold nothing at all.
    ///
    /// - Throws: ``KirokuError/Code/backupTargetInUse``, ``KirokuError/Code/permissionDenied``.
    package static func prepare(_ directory: String, mustBeEmpty: Bool = false) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            do {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw KirokuError(.permissionDenied, "Cannot create the backup directory \(directory): \((error as NSError).localizedDescription); choose a writable location.", path: directory)
            }
            return
        }
        if mustBeEmpty {
            guard isDirectory.boolValue, ((try? manager.contentsOfDirectory(atPath: directory)) ?? []).isEmpty else {
                throw KirokuError(.backupTargetInUse, "The backup directory \(directory) is not empty (or is a file); give a new or empty directory, so no backup is written over another store.", path: directory)
            }
        } else {
            guard isDirectory.boolValue, !manager.fileExists(atPath: directory + "/data.mdb") else {
                throw KirokuError(.backupTargetInUse, "\(directory) holds a store or is a file; give a new or empty directory for the backup, so none is written over another store.", path: directory)
            }
        }
    }

    /// Copies `environment` into `directory` (prepared first); `compact` leaves out free pages.
    static func copy(_ environment: Environment, to directory: String, compact: Bool, doing action: String) throws {
        try prepare(directory)
        do {
            try environment.copy(to: directory, compact: compact)
        } catch {
            throw KirokuError(status: error, path: directory, doing: action)
        }
    }
}

extension EventLog {
    /// Writes a consistent copy of the log (every record up to one commit, with the consumers'
    /// checkpoints and the other tables of that commit) into `directory`, while appends go on.
    /// `directory` is created when missing and must not hold a store. With `compact`, free
    /// pages are left out: the copy can be much smaller than the file. The copy is the same
    /// store (its store id), as of that commit. Projections live in environments of their own:
    /// `kiroku backup` copies them first (``ProjectionCatalog``), so each is at or before the
    /// log copy's head and catches up when the copy is used.
    ///
    /// - Throws: ``KirokuError/Code/backupTargetInUse`` when `directory` holds a store,
    ///   ``KirokuError/Code/permissionDenied``, ``KirokuError/Code/storageFailure``.
    public func backup(to directory: String, compact: Bool = false) throws {
        try StoreBackup.copy(environment, to: directory, compact: compact, doing: "copying the store")
    }
}

extension KeyValueStore {
    /// Writes a consistent copy of the environment into `directory` (created when missing; it
    /// must not hold a store) while writes go on; `compact` leaves out free pages.
    ///
    /// - Throws: ``KirokuError/Code/backupTargetInUse``, ``KirokuError/Code/permissionDenied``,
    ///   ``KirokuError/Code/storageFailure``.
    public func backup(to directory: String, compact: Bool = false) throws {
        try StoreBackup.copy(environment, to: directory, compact: compact, doing: "copying a projection's environment")
    }
}
