// The import benchmark of docs/BENCHMARKS.md: one JSON Lines file (LINES lines of 200-byte
// payloads over 50,000 keys, an id on every line), imported by `kiroku import` (the real
// command, as a child process) and by SQLite through GRDB with the same semantics (each
// line's key version read and checked, unique ids, a (key, version) index, 10,000 lines a
// transaction as kiroku import's default batch, WAL, synchronous=FULL), then exported back
// by `kiroku export`.
// Usage: kiroku-import-probe KIROKU_BINARY [LINES]
import Foundation
import GRDB

let arguments = CommandLine.arguments.dropFirst()
guard let kiroku = arguments.first else {
    FileHandle.standardError.write(Data("usage: kiroku-import-probe KIROKU_BINARY [LINES]\n".utf8))
    exit(1)
}
let lines = Int(arguments.dropFirst().first ?? "") ?? 1_000_000
let root = NSTemporaryDirectory() + "kiroku-import-probe-\(getpid())"
try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: root) }

// The file: deterministic, 200-byte payloads.
let file = root + "/events.jsonl"
do {
    _ = FileManager.default.createFile(atPath: file, contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
    var chunk = Data()
    var state: UInt64 = 7
    for i in 0..<lines {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let head = #"{"n":\#(i),"amount":\#(state >> 45),"note":""#
        let payload = head + String(repeating: "x", count: max(0, 200 - head.utf8.count - 2)) + #""}"#
        chunk.append(contentsOf: #"{"key":"customer-\#(i % 50_000)","type":"Imported","id":"ev-\#(i)","data":\#(payload)}"#.utf8)
        chunk.append(0x0A)
        if chunk.count > 1 << 20 {
            try out.write(contentsOf: chunk)
            chunk.removeAll(keepingCapacity: true)
        }
    }
    try out.write(contentsOf: chunk)
    try out.close()
}
let fileBytes = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0

let clock = ContinuousClock()
func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }

/// Runs a child to completion; its standard output.
func run(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: kiroku)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        FileHandle.standardError.write(Data("kiroku \(arguments.joined(separator: " ")) failed (\(process.terminationStatus))\n".utf8))
        exit(1)
    }
    return String(decoding: data, as: UTF8.self)
}

// Kiroku: import, then export.
var start = clock.now
let summary = try run(["import", root + "/store", file, "--json"])
let kirokuImport = clock.now - start
guard summary.contains("\"imported\":\(lines)") else {
    FileHandle.standardError.write(Data("unexpected import summary: \(summary)\n".utf8))
    exit(1)
}
start = clock.now
_ = try run(["export", root + "/store", root + "/export.jsonl"])
let kirokuExport = clock.now - start
let exportBytes = (try FileManager.default.attributesOfItem(atPath: root + "/export.jsonl")[.size] as? NSNumber)?.intValue ?? 0

// SQLite through GRDB, parsing each line as a Swift service would (JSONSerialization, the
// payload serialized again for storage).
var configuration = Configuration()
configuration.journalMode = .wal
configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
let queue = try DatabaseQueue(path: root + "/sqlite.db", configuration: configuration)
try queue.write { db in
    try db.execute(sql: """
        CREATE TABLE events (position INTEGER PRIMARY KEY, key TEXT NOT NULL, version INTEGER NOT NULL,
                             type TEXT NOT NULL, id TEXT UNIQUE, data BLOB NOT NULL, metadata BLOB);
        CREATE UNIQUE INDEX events_key_version ON events (key, version);
        """)
}
start = clock.now
do {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
    var buffer = Data()
    var batch: [(key: String, type: String, id: String?, data: Data, metadata: Data?)] = []
    func flush() throws {
        guard !batch.isEmpty else { return }
        try queue.write { db in
            let version = try db.cachedStatement(sql: "SELECT MAX(version) FROM events WHERE key = ?")
            let existing = try db.cachedStatement(sql: "SELECT key, type, data, metadata FROM events WHERE id = ?")
            let insert = try db.cachedStatement(sql: "INSERT INTO events (key, version, type, id, data, metadata) VALUES (?, ?, ?, ?, ?, ?)")
            for event in batch {
                // An id stored already is a repeat (same content) or an error, as in Kiroku.
                if let id = event.id, try Row.fetchOne(existing, arguments: [id]) != nil { continue }
                let current = try Int.fetchOne(version, arguments: [event.key]) ?? 0
                try insert.execute(arguments: [event.key, current + 1, event.type, event.id, event.data, event.metadata])
            }
        }
        batch.removeAll(keepingCapacity: true)
    }
    while true {
        let chunk = handle.readData(ofLength: 1 << 20)
        if !chunk.isEmpty { buffer.append(chunk) }
        var start = buffer.startIndex
        defer { buffer.removeSubrange(buffer.startIndex..<start) }
        while let newline = buffer[start...].firstIndex(of: 0x0A) {
            let line = buffer[start..<newline]
            start = newline + 1
            guard let object = try JSONSerialization.jsonObject(with: line) as? [String: Any],
                  let key = object["key"] as? String, let type = object["type"] as? String else { continue }
            let data = try object["data"].map { try JSONSerialization.data(withJSONObject: $0, options: [.fragmentsAllowed]) } ?? Data()
            let metadata = try object["metadata"].map { try JSONSerialization.data(withJSONObject: $0, options: [.fragmentsAllowed]) }
            batch.append((key, type, object["id"] as? String, data, metadata))
            if batch.count >= 10_000 { try flush() }
        }
        if chunk.isEmpty { break }
    }
    try flush()
}
let sqliteImport = clock.now - start
let sqliteRows = try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } ?? 0
guard sqliteRows == lines else {
    FileHandle.standardError.write(Data("SQLite holds \(sqliteRows) rows, not \(lines)\n".utf8))
    exit(1)
}

let result: [String: Any] = [
    "lines": lines, "fileBytes": fileBytes, "exportBytes": exportBytes,
    "kirokuImportSeconds": seconds(kirokuImport), "kirokuExportSeconds": seconds(kirokuExport),
    "sqliteImportSeconds": seconds(sqliteImport),
]
print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
