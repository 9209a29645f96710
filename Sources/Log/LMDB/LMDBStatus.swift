import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A non-zero return code from an `mdb_*` call, as LMDB gave it.
///
/// It stays inside the Log module: the store translates it into a ``KirokuError`` with the
/// context (path, key, position) that only the caller knows.
struct LMDBStatus: Error, Equatable, CustomStringConvertible {
    let code: Int32

    var description: String {
        String(cString: mdb_strerror(code))
    }

    static let notFound = LMDBStatus(code: MDB_NOTFOUND)
    static let databasesFull = LMDBStatus(code: MDB_DBS_FULL)
    static let mapFull = LMDBStatus(code: MDB_MAP_FULL)
    static let readersFull = LMDBStatus(code: MDB_READERS_FULL)

    var isCorruption: Bool {
        code == MDB_CORRUPTED || code == MDB_PAGE_NOTFOUND
    }

    /// The environment hit an unrecoverable error earlier (a failed meta page write); it must be
    /// closed and opened again.
    var isPanic: Bool { code == MDB_PANIC }

    /// LMDB reports a short write (the file system ran out of room mid-write) as `EIO`.
    var isIOError: Bool { code == EIO }

    /// The file is not an LMDB environment this library can read.
    var isNotAnEnvironment: Bool {
        code == MDB_INVALID || code == MDB_VERSION_MISMATCH
    }

    var isDiskFull: Bool {
        code == ENOSPC || code == EDQUOT || code == EFBIG
    }

    var isPermission: Bool {
        code == EACCES || code == EPERM || code == EROFS
    }
}

/// Throws an ``LMDBStatus`` for a non-zero LMDB return code.
@inline(__always)
func lmdbCheck(_ code: Int32) throws(LMDBStatus) {
    if code != 0 { throw LMDBStatus(code: code) }
}
