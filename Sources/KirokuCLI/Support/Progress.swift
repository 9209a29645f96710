import Foundation

/// A one-line progress bar with rate and ETA on standard error, shown only on a terminal.
struct Progress {
    let label: String
    let total: UInt64?
    let start = Date()
    private(set) var lastDraw = Date.distantPast
    let enabled = isatty(STDERR_FILENO) == 1

    init(_ label: String, total: UInt64?) {
        self.label = label
        self.total = total
    }

    mutating func update(_ done: UInt64, force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.2 else { return }
        lastDraw = now
        let elapsed = max(now.timeIntervalSince(start), 0.001)
        let rate = Double(done) / elapsed
        var line = "\r\(label) \(done)"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 24
            let filled = Int(fraction * Double(width))
            line = "\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(Int(fraction * 100))% \(done)/\(total)"
            if rate > 0, done < total { line += " ETA \(Int(Double(total - done) / rate))s" }
        }
        line += String(format: " %.0f/s   ", rate)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
