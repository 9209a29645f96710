import KirokuProjections
import Foundation

/// Dates in the search view: seconds since 1970 (UTC), parsed from ISO 8601 or epoch numbers.
enum DateValue {
    /// Epoch numbers over 10^11 are taken as milliseconds (10^11 seconds is the year 5138).
    static func epoch(_ number: Double) -> Double {
        abs(number) > 1e11 ? number / 1000 : number
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z`, `±HH:MM` or no zone (UTC),
    /// or an epoch number.
    static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        if !bytes.dropFirst().contains(UInt8(ascii: "-")), let number = Double(text) { return epoch(number) }
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<count {
                let b = bytes[i]
                guard b >= 48, b <= 57 else { return nil }
                value = value * 10 + Int(b - 48)
                i += 1
            }
            return value
        }
        func expect(_ c: Character) -> Bool {
            guard i < bytes.count, bytes[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var seconds = Double(daysFromCivil(year, month, day)) * 86_400
        guard i < bytes.count else { return seconds }
        guard expect("T") || expect(" "), let hour = digits(2), expect(":"), let minute = digits(2),
              hour < 24, minute < 60 else { return nil }
        seconds += Double(hour * 3600 + minute * 60)
        if expect(":") {
            guard let second = digits(2), second < 61 else { return nil }
            seconds += Double(second)
            if expect(".") || expect(",") {
                var scale = 0.1
                var fraction = 0.0
                while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                    fraction += Double(bytes[i] - 48) * scale
                    scale /= 10
                    i += 1
                }
                seconds += fraction
            }
        }
        guard i < bytes.count else { return seconds }
        if expect("Z") || expect("z") { return i == bytes.count ? seconds : nil }
        let sign: Double
        if expect("+") { sign = 1 } else if expect("-") { sign = -1 } else { return nil }
        guard let offsetHour = digits(2) else { return nil }
        _ = expect(":")
        let offsetMinute = digits(2) ?? 0
        guard i == bytes.count else { return nil }
        return seconds - sign * Double(offsetHour * 3600 + offsetMinute * 60)
    }

    /// The span a date written in a query stands for: the whole unit it was written to.
    /// `2020` is that year, `2020-01` that month, `2020-01-31` that day, `2020-01-31T10:15`
    /// that minute, `…T10:15:30` that second; with a fraction, or as epoch seconds, the instant
    /// (`end == start`). `end` is the start of the next unit (exclusive).
    static func span(_ text: String) -> (start: Double, end: Double)? {
        let bytes = Array(text.utf8)
        let isDigit = { (b: UInt8) in b >= 48 && b <= 57 }
        if bytes.count == 4, bytes.allSatisfy(isDigit), let year = Int(text) {
            return (Double(daysFromCivil(year, 1, 1)) * 86_400, Double(daysFromCivil(year + 1, 1, 1)) * 86_400)
        }
        if bytes.count == 7, bytes[4] == UInt8(ascii: "-"), bytes[..<4].allSatisfy(isDigit), bytes[5...].allSatisfy(isDigit),
           let year = Int(text.prefix(4)), let month = Int(text.suffix(2)), (1...12).contains(month) {
            let next = month == 12 ? (year + 1, 1) : (year, month + 1)
            return (Double(daysFromCivil(year, month, 1)) * 86_400, Double(daysFromCivil(next.0, next.1, 1)) * 86_400)
        }
        guard let start = parse(text) else { return nil }
        let isCalendar = bytes.count >= 10 && bytes[4] == UInt8(ascii: "-")
        guard isCalendar else { return (start, start) }
        // What follows the date: nothing (a day), HH:MM (a minute), HH:MM:SS (a second), a fraction.
        let time = bytes.dropFirst(11).prefix { isDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ",") }
        if bytes.count == 10 { return (start, start + 86_400) }
        if time.contains(UInt8(ascii: ".")) || time.contains(UInt8(ascii: ",")) { return (start, start) }
        return time.count <= 5 ? (start, start + 60) : (start, start + 1)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// ISO 8601 (UTC) text of a date value, for results.
    static func format(_ seconds: Double) -> String {
        let date = Date(timeIntervalSince1970: seconds)
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: seconds.rounded(.down) != seconds)
        style.timeZone = TimeZone(identifier: "UTC")!
        return date.formatted(style)
    }
}
