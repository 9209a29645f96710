import Foundation

/// A one-line progress line on standard error (count, rate, a bar and ETA when the end is
/// known), shown only when standard error is a terminal; commands print their summary anyway.
struct Progress {
    let label: String
    let total: UInt64?
    /// What is counted (`lines`, `records`), for the line.
    let unit: String
    let start = Date()
    private(set) var lastDraw = Date.distantPast
    let enabled = isatty(STDERR_FILENO) == 1

    init(_ label: String, total: UInt64?, unit: String = "") {
        self.label = label
        self.total = total
        self.unit = unit
    }

    /// Shows `done` of the total; `fraction` (0...1) says how far along the work is when the
    /// total is not a count (an import knows the bytes it read, not the lines to come).
    mutating func update(_ done: UInt64, fraction: Double? = nil, force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.2 else { return }
        lastDraw = now
        let elapsed = max(now.timeIntervalSince(start), 0.001)
        let rate = Double(done) / elapsed
        let unit = self.unit.isEmpty ? "" : " \(self.unit)"
        var line = "\r\(label) \(done)\(total.map { "/\($0)" } ?? "")\(unit)"
        if let fraction = fraction ?? total.map({ $0 > 0 ? min(1, Double(done) / Double($0)) : 1 }) {
            let width = 24
            let filled = Int(fraction * Double(width))
            line += " [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(Int(fraction * 100))%"
            if fraction > 0, fraction < 1 { line += " ETA \(Int(elapsed * (1 - fraction) / fraction))s" }
        }
        line += String(format: " %.0f", rate) + unit + "/s   "
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
