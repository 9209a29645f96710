import Foundation
import Log

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
    func activate(_ version: Int) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let temporary = activePath + ".next"
        let data = Data("v\(version)\n".utf8)
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw KirokuError(.permissionDenied, "Cannot write \(temporary); check the store directory's permissions.", path: temporary)
        }
        try sync(temporary)
        guard rename(temporary, activePath) == 0 else {
            throw KirokuError(.storageFailure, "Switching \(root) to v\(version) failed: \(String(cString: strerror(errno))).", path: root)
        }
        try sync(root)
    }

    private func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        fsync(fd)
    }
}
