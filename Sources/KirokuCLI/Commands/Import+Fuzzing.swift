import Foundation
import KirokuLog

/// The import line parser's fuzz entry point, for the libFuzzer target in `Fuzz/` and the
/// regression test that replays its corpus. Not API: `@_spi(Fuzzing)`.
@_spi(Fuzzing) public enum ImportFuzzing {
    /// Parses `bytes` as one JSONL import line: it must give an append group of one event with
    /// a key, a type and an id, or throw a line error.
    public static func parseLine(_ bytes: UnsafeRawBufferPointer) {
        guard let group = try? ImportBatches.line(bytes, number: 1, honorPositions: false).group else { return }
        precondition(!group.key.isEmpty && group.events.count == 1, "an import line gave no key or not one event")
        precondition(!group.events[0].type.isEmpty && !(group.events[0].id ?? "").isEmpty, "an import line gave no type or no id")
    }
}
