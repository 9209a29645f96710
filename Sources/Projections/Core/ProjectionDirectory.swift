import Foundation
import KirokuLog

/// Where a projection lives: `<store>/projections/<name>/v<version>/` holds each version's
/// environment; `<store>/projections/<name>/active` names the version that serves reads.
struct ProjectionDirectory: Sendable {
    let root: String

    init(store: String, name: String) {
        root = store + "/projections/" + name
    }

    func versionPath(_ version: Int) -> String { root + "/v\(version)" }

    var activePath: String { root + "/active" }

    /// The active version, or `nil` when none has been switched on yet.
    func activeVersion() -> Int? {
        guard let text = try? String(contentsOfFile: activePath, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst())
    }

    /// Makes `version` the active one in one atomic step: the new pointer is written and
    /// flushed beside the old one, then renamed over it, then the directory is flushed. A crash
    /// at any instant leaves either the old pointer or the new one, never a torn one.
    ///
    /// Every step is checked: a pointer that could not be written, flushed or renamed is an
    /// error, and the old pointer stays in force.
    func activate(_ version: Int) throws {
        try Self.createPrivateDirectory(root)
        let temporary = activePath + ".next"
        let data = Data("v\(version)\n".utf8)
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw KirokuError(.permissionDenied, "Cannot write \(temporary); check the store directory's permissions.", path: temporary)
        }
        try Self.sync(temporary, doing: "flushing the new pointer to v\(version)")
        guard rename(temporary, activePath) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw KirokuError(.storageFailure, "Switching \(root) to v\(version) failed: \(reason); the previous version stays active.", path: root)
        }
        try Self.sync(root, doing: "flushing the switch to v\(version)")
    }

    /// Creates `path` and its missing parents with mode 0700 (as the store's own directory).
    static func createPrivateDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw KirokuError(.permissionDenied, "Cannot create \(path) (\(error.localizedDescription)); check the store directory's permissions.", path: path)
        }
    }

    /// `fsync` of a file or directory; a failure is an error (the switch may not be durable).
    static func sync(_ path: String, doing action: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw KirokuError(.storageFailure, "Cannot open \(path) while \(action): \(String(cString: strerror(errno))).", path: path)
        }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw KirokuError(.storageFailure, "fsync of \(path) failed while \(action): \(String(cString: strerror(errno))); check the disk.", path: path)
        }
    }
}
