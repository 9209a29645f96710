#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension KirokuError {
    /// Translates an LMDB or system status into an error that says what to do.
    init(status: LMDBStatus, path: String, doing action: String) {
        let detail = status.description
        if status.isDiskFull || (status.isIOError && Self.isNearlyFull(path)) {
            self.init(.diskFull, "The disk holding \(path) is full (\(detail)) while \(action); nothing of the failed operation was written. Free space or move the store, then retry.", path: path, underlyingCode: status.code)
        } else if status.isPermission {
            self.init(.permissionDenied, "Cannot write to \(path) (\(detail)) while \(action); make the directory and its files writable by this user, or use a writable copy.", path: path, underlyingCode: status.code)
        } else if status == .readersFull {
            self.init(.readersFull, "Every LMDB reader slot of \(path) is in use while \(action); raise Options.maxReaders (every process must agree) or end long-running reads.", path: path, underlyingCode: status.code)
        } else if status.isCorruption {
            self.init(.corruption, "The store at \(path) is damaged (\(detail)) while \(action); run verify, and restore from a copy if it reports problems.", path: path, underlyingCode: status.code)
        } else if status.isPanic {
            self.init(.storageFailure, "The store at \(path) stopped after an earlier fatal I/O error (\(detail)) while \(action); close it and open it again (committed records are intact).", path: path, underlyingCode: status.code)
        } else if status.isIOError {
            self.init(.storageFailure, "An I/O error on \(path) while \(action) (\(detail)); nothing of the failed operation was written. Check the disk (dmesg), then retry.", path: path, underlyingCode: status.code)
        } else {
            self.init(.storageFailure, "LMDB failed while \(action) in \(path): \(detail).", path: path, underlyingCode: status.code)
        }
    }

    /// Whether the file system holding `path` has less than 16 MiB (or 1%) free: LMDB turns a
    /// write cut short by a full disk into `EIO`, and this tells the two apart.
    private static func isNearlyFull(_ path: String) -> Bool {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return false }
        let free = UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
        let total = UInt64(stats.f_blocks) * UInt64(stats.f_frsize)
        return free < 16 << 20 || free < total / 100
    }
}
