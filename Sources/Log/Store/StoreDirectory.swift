import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks a store directory before LMDB opens it, and explains open failures.
enum StoreDirectory {
    /// Makes sure `path` is a directory that can hold a store and returns its canonical path.
    static func prepare(path: String, create: Bool) throws -> String {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        if !fileManager.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard create else {
                throw KirokuError(.storeNotFound, "No store at \(path); check the path, or open with createIfMissing to create one.", path: path)
            }
            do {
                try fileManager.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw KirokuError(.permissionDenied, "Cannot create the store directory \(path): \(describe(error)); create it yourself or choose a writable location.", path: path)
            }
        } else if !isDirectory.boolValue {
            throw KirokuError(.notAStore, "\(path) is a file, not a store directory; give the directory a store lives in (or should be created in).", path: path)
        } else {
            let entries = (try? fileManager.contentsOfDirectory(atPath: path)) ?? []
            if !entries.isEmpty && !entries.contains("data.mdb") {
                throw KirokuError(.notAStore, "\(path) is not a Kiroku store: it holds other files (\(entries.sorted().prefix(3).joined(separator: ", ")))) and no data.mdb; give an empty or new directory, or the directory of an existing store.", path: path)
            }
        }
        guard access(path, W_OK) == 0 else {
            throw KirokuError(.permissionDenied, "The store directory \(path) is not writable (\(String(cString: strerror(errno)))); fix its permissions or open a writable copy.", path: path, underlyingCode: errno)
        }
        return URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Explains why LMDB could not open or initialise the store.
    static func openError(_ error: any Error, path: String) -> KirokuError {
        switch error {
        case let error as KirokuError:
            return error
        case StoreLayout.OpenFailure.notAStore(let why):
            return KirokuError(.notAStore, "\(path) is not a Kiroku store: \(why). Give the directory of a Kiroku store, or an empty one.", path: path)
        case StoreLayout.OpenFailure.newerFormat(let format):
            return KirokuError(.unsupportedFormat, "\(path) was written by a newer Kiroku (store format \(format)); this build reads format \(StoreLayout.newestFormatVersion) and older. Upgrade Kiroku to open it.", path: path)
        case let status as LMDBStatus where status.isNotAnEnvironment:
            return KirokuError(.notAStore, "\(path) holds a data.mdb that is not a readable LMDB environment (\(status)); give the directory of a Kiroku store, or an empty one.", path: path, underlyingCode: status.code)
        case let status as LMDBStatus:
            return KirokuError(status: status, path: path, doing: "opening the store")
        default:
            return KirokuError(.storageFailure, "Opening the store at \(path) failed: \(error).", path: path)
        }
    }

    private static func describe(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }
}
