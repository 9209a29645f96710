// Shared by the test targets: real directories, real processes, real file systems.
import Foundation
import KirokuCorpus
import KirokuLog

/// A new empty directory under the system's temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "kiroku-test") {
        var template = Array((NSTemporaryDirectory() + "/\(label)-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func sub(_ name: String) -> String { path + "/" + name }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The built helper executable (a test target dependency, so `swift test` builds it).
public func helperExecutable(_ name: String = "LogTestHelper") throws -> URL {
    var candidates: [URL] = []
    let argv0 = URL(fileURLWithPath: CommandLine.arguments[0])
    candidates.append(argv0.deletingLastPathComponent())
    candidates.append(Bundle.main.bundleURL)
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
    for directory in candidates {
        let url = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw HelperNotFound(name: name, searched: candidates.map(\.path))
}

public struct HelperNotFound: Error, CustomStringConvertible {
    let name: String
    let searched: [String]
    public var description: String { "helper \(name) not found in \(searched); build with `swift build --build-tests`" }
}

/// Runs an executable to completion and returns its exit status and output. The blocking
/// work (waiting for the process, draining its pipes) runs on dispatch threads, never on the
/// cooperative pool, so slow children (under sanitizers) cannot starve the other tests' tasks.
public func runProcess(_ executable: URL, _ arguments: [String], input: String? = nil) async throws -> (status: Int32, out: String, err: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            let output = Pipe(), errors = Pipe(), stdin = Pipe()
            process.standardOutput = output
            process.standardError = errors
            process.standardInput = input == nil ? FileHandle.nullDevice : stdin
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            if let input {
                stdin.fileHandleForWriting.write(Data(input.utf8))
                try? stdin.fileHandleForWriting.close()
            }
            // Both pipes drain at once, so a child that fills one never blocks on it.
            let group = DispatchGroup()
            let errorData = Locked(Data())
            group.enter()
            DispatchQueue.global().async {
                let data = errors.fileHandleForReading.readDataToEndOfFile()
                errorData.withLock { $0 = data }
                group.leave()
            }
            let outputData = output.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            process.waitUntilExit()
            continuation.resume(returning: (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData.withLock { $0 }, as: UTF8.self)))
        }
    }
}

/// Runs an executable to completion and returns its standard output; throws on non-zero exit.
public func run(_ executable: URL, _ arguments: [String]) async throws -> String {
    let result = try await runProcess(executable, arguments)
    guard result.status == 0 else { throw ProcessFailed(status: result.status, stderr: result.err) }
    return result.out
}

/// Starts an executable in the background, its output discarded (for processes a test kills).
public func launch(_ executable: URL, _ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

public struct ProcessFailed: Error, CustomStringConvertible {
    public let status: Int32
    public let stderr: String
    public var description: String { "exit \(status): \(stderr)" }
}

/// A small tmpfs mounted for one test (disk full, read-only file systems). Needs root and
/// mount rights, as CI has here; elsewhere the tests that need it are skipped, saying so.
public struct TmpfsMount: Sendable {
    public let path: String

    public static let isAvailable: Bool = {
        guard geteuid() == 0 else { return false }
        let directory = TemporaryDirectory("kiroku-tmpfs-probe")
        defer { directory.remove() }
        guard let mount = try? TmpfsMount(at: directory.path, bytes: 1 << 20, readOnly: false) else { return false }
        mount.unmount()
        return true
    }()

    public init(at path: String, bytes: Int, readOnly: Bool) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/mount")
        process.arguments = ["-t", "tmpfs", "-o", "size=\(bytes)\(readOnly ? ",ro" : ""),mode=0755", "tmpfs", path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ProcessFailed(status: process.terminationStatus, stderr: "mount failed") }
        self.path = path
    }

    /// Changes the file system's size in place (`mount -o remount`).
    public func resize(bytes: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/mount")
        process.arguments = ["-o", "remount,size=\(bytes)", path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ProcessFailed(status: process.terminationStatus, stderr: "remount failed") }
    }

    public func unmount() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/umount")
        process.arguments = [path]
        try? process.run()
        process.waitUntilExit()
    }
}

/// A seeded generator: randomised tests print their seed and replay from `KIROKU_SEED`.
/// The numbers are the corpus's SplitMix64 (`CorpusRandom`).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var random: CorpusRandom

    public init(seed: UInt64) { random = CorpusRandom(seed: seed) }

    public static func seed(label: String) -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["KIROKU_SEED"], let seed = UInt64(text) { return seed }
        let seed = UInt64.random(in: 1...UInt64(UInt32.max))
        print("\(label): seed \(seed) (replay with KIROKU_SEED=\(seed))")
        return seed
    }

    public mutating func next() -> UInt64 { random.next() }
}

/// The `data.mdb` files under `directory` (a store, a backup) that contain `needle`'s UTF-8
/// bytes anywhere: in records, in free pages, in the unused middle of pages.
public func dataFilesContaining(_ needle: String, under directory: String) -> [String] {
    let bytes = Data(needle.utf8)
    var found: [String] = []
    let enumerator = FileManager.default.enumerator(atPath: directory)
    while let file = enumerator?.nextObject() as? String {
        guard file.hasSuffix("data.mdb"), let data = FileManager.default.contents(atPath: directory + "/" + file) else { continue }
        if data.range(of: bytes) != nil { found.append(file) }
    }
    return found
}

/// Runs blocking work (a scan of a store's files, a full verify) on a GCD thread, so that it
/// does not hold one of the few threads of Swift's cooperative pool that every test shares.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
