import Foundation
import KirokuLog
import KirokuNATS
import KirokuScaleOut
import KirokuTestSupport
import Testing

/// Runs the built `kiroku` binary to completion.
func kiroku(_ arguments: [String]) async throws -> (status: Int32, out: String, err: String) {
    try await runProcess(try helperExecutable("kiroku"), arguments)
}

/// Starts `kiroku` in the background, its standard error appended to `logFile`.
func launchKiroku(_ arguments: [String], logFile: String) throws -> Process {
    let process = Process()
    process.executableURL = try helperExecutable("kiroku")
    process.arguments = arguments
    if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
    let handle = FileHandle(forWritingAtPath: logFile)!
    handle.seekToEndOfFile()
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    return process
}

/// SIGKILLs a process and reaps it.
func killHard(_ process: Process) {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
}

/// Fills a new store with `count` records over `keys` keys, in atomic multi-key commits of
/// about 1,000 records, some with ids and metadata.
func fillStore(_ path: String, count: Int, keys: Int = 500) async throws {
    let log = try EventLog(path: path)
    defer { log.close() }
    var written = 0
    var round = 0
    while written < count {
        var groups: [AppendGroup] = []
        var inCommit = 0
        var keyIndex = round % keys
        while inCommit < 1000, written + inCommit < count {
            let size = min(10, count - written - inCommit, 1000 - inCommit)
            let events = (0..<size).map { offset in
                let n = written + inCommit + offset
                return EventData(type: n % 3 == 0 ? "Opened" : "Noted", payload: Data("{\"n\":\(n),\"text\":\"record \(n)\"}".utf8),
                                 metadata: n % 5 == 0 ? Data("{\"by\":\"test\"}".utf8) : nil, id: n % 7 == 0 ? "id-\(n)" : nil)
            }
            groups.append(AppendGroup(key: "key.\(keyIndex % keys) *", events: events))
            keyIndex += 1
            inCommit += size
        }
        try await log.append(groups)
        written += inCommit
        round += 1
    }
}

/// The stream's state, retried while the cluster elects a leader (up to 30 s).
func streamState(_ servers: [NATSServerURL], _ stream: String) async throws -> JetStream.StreamState? {
    let client = NATSClient(servers: servers, connectTimeout: .seconds(15))
    let deadline = ContinuousClock.now + .seconds(30)
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            let connection = try await client.connect()
            defer { connection.close() }
            return try await JetStream(connection, timeout: .seconds(2)).streamInfo(stream)?.state
        } catch {
            lastError = error
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    throw lastError ?? ClusterFailure("no stream state")
}

/// The stream's leader's server name, retried like ``streamState(_:_:)``.
func streamLeader(_ servers: [NATSServerURL], _ stream: String) async throws -> String? {
    let client = NATSClient(servers: servers, connectTimeout: .seconds(15))
    for _ in 0..<100 {
        do {
            let connection = try await client.connect()
            defer { connection.close() }
            if let leader = try await JetStream(connection, timeout: .seconds(2)).streamInfo(stream)?.cluster?.leader { return leader }
        } catch {}
        try await Task.sleep(for: .milliseconds(100))
    }
    return nil
}

/// Waits until the stream's last sequence reaches `position` (or `timeout` passes).
func waitForStream(_ servers: [NATSServerURL], _ stream: String, atLeast position: UInt64, timeout: Duration = .seconds(120)) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let state = try? await streamState(servers, stream), state.lastSeq >= position { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}

/// Mirrors `stream` into a new store beside `source` in this process and checks that it
/// holds the source's records, byte for byte; this checks every header the relay wrote.
func expectStreamHoldsTheLog(_ servers: [NATSServerURL], stream: String, source: String, replica: String) async throws {
    let state = try await streamState(servers, stream)
    let log = try EventLog(path: source)
    defer { log.close() }
    let head = try log.headPosition()
    // Exactly once, in order: sequences 1…head, no more, no fewer.
    guard let state, state.firstSeq == 1, state.lastSeq == head, state.messages == head else {
        throw ClusterFailure("stream \(stream) holds \(String(describing: state)); the log's head is \(head)")
    }
    let copy = try EventLog(path: replica)
    defer { copy.close() }
    let mirror = Mirror(log: copy, options: MirrorOptions(servers: servers, stream: stream))
    let running = Task { try await mirror.run() }
    defer { running.cancel() }
    try await mirror.waitUntilApplied(head, timeout: .seconds(120))
    try expectEqualLogs(log, copy)
}

/// The tests' cluster: the library's local one, three servers.
typealias NATSCluster = LocalNATSCluster

struct ClusterFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
