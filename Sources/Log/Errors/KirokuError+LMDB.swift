extension KirokuError {
    /// Translates an LMDB or system status into an error that says what to do.
    init(status: LMDBStatus, path: String, doing action: String) {
        let detail = status.description
        if status.isDiskFull {
            self.init(.diskFull, "The disk holding \(path) is full (\(detail)) while \(action); nothing of the failed operation was written. Free space or move the store, then retry.", path: path, underlyingCode: status.code)
        } else if status.isPermission {
            self.init(.permissionDenied, "Cannot write to \(path) (\(detail)) while \(action); make the directory and its files writable by this user, or use a writable copy.", path: path, underlyingCode: status.code)
        } else if status == .readersFull {
            self.init(.readersFull, "Every LMDB reader slot of \(path) is in use while \(action); raise Options.maxReaders (every process must agree) or end long-running reads.", path: path, underlyingCode: status.code)
        } else if status.isCorruption {
            self.init(.corruption, "The store at \(path) is damaged (\(detail)) while \(action); run verify, and restore from a copy if it reports problems.", path: path, underlyingCode: status.code)
        } else {
            self.init(.storageFailure, "LMDB failed while \(action) in \(path): \(detail).", path: path, underlyingCode: status.code)
        }
    }
}
