import Foundation

/// Turns text into the terms the search view indexes and queries: deterministic, with no
/// language detection (it misfires on short Japanese texts).
///
/// 1. Each character is normalized with Unicode NFKC and case-folded, so full-width `ＡＢＣ`
///    matches `abc` and half-width `ｶﾞ` matches `ガ`.
/// 2. Runs of Han, Hiragana, Katakana and Hangul become overlapping bigrams (`東京都` gives
///    `東京`, `京都`), plus the run's last character as a unigram (`都`); a lone CJK character
///    is a unigram. So a CJK substring of two or more characters is a sequence of bigrams, and
///    a single character is found as the first character of a term (see ``Token``).
/// 3. Other letters and digits form words, split at every other character (spaces,
///    punctuation, symbols), as Unicode word boundaries do for alphabetic scripts.
///
/// Positions count characters inside CJK runs (the bigram at run offset `i` has position
/// `start + i`) and words one by one, so adjacency in positions is adjacency in the text.
public struct Analyzer: Sendable {
    /// One indexed term.
    public struct Token: Sendable, Hashable {
        /// The normalized term.
        public var term: String
        /// Its position (see ``Analyzer``).
        public var position: Int
        /// The range of characters of the original text it came from.
        public var range: Range<Int>
        /// Whether the term is CJK (a bigram or a unigram) rather than a word.
        public var isCJK: Bool
    }

    /// Makes an analyzer.
    public init() {}

    /// The normalized form of `text`: Unicode NFKC, then lowercase. Tokens are the terms of
    /// this text (``tokens(_:)`` normalizes character by character, to keep track of where
    /// each term came from).
    public func normalize(_ text: String) -> String {
        text.precomposedStringWithCompatibilityMapping.lowercased()
    }

    /// The terms of `text`, in order.
    public func tokens(_ text: String) -> [Token] {
        var tokens: [Token] = []
        tokens.reserveCapacity(text.utf8.count / 3)
        var position = 0
        // The current word or CJK run: its scalars and, for each, the original character index.
        var word = String.UnicodeScalarView()
        var wordStart = 0
        var cjk: [(scalar: Unicode.Scalar, index: Int)] = []
        var index = 0

        func flushWord(end: Int) {
            guard !word.isEmpty else { return }
            tokens.append(Token(term: String(word), position: position, range: wordStart..<end, isCJK: false))
            position += 1
            word = String.UnicodeScalarView()
        }
        func flushRun() {
            guard !cjk.isEmpty else { return }
            if cjk.count == 1 {
                tokens.append(Token(term: String(Character(cjk[0].scalar)), position: position,
                                    range: cjk[0].index..<cjk[0].index + 1, isCJK: true))
            } else {
                for i in 0..<cjk.count - 1 {
                    var pair = String.UnicodeScalarView()
                    pair.append(cjk[i].scalar)
                    pair.append(cjk[i + 1].scalar)
                    tokens.append(Token(term: String(pair), position: position + i,
                                        range: cjk[i].index..<cjk[i + 1].index + 1, isCJK: true))
                }
                let last = cjk[cjk.count - 1]
                tokens.append(Token(term: String(Character(last.scalar)), position: position + cjk.count - 1,
                                    range: last.index..<last.index + 1, isCJK: true))
            }
            position += cjk.count
            cjk.removeAll(keepingCapacity: true)
        }

        for character in text {
            for scalar in Self.fold(character) {
                // Half-width voiced sound marks are characters of their own: NFKC turns them
                // into combining marks, composed here with the kana before them (ｶﾞ → ガ).
                if scalar.value == 0x3099 || scalar.value == 0x309A, let previous = cjk.last,
                   let composed = Self.compose(previous.scalar, scalar) {
                    cjk[cjk.count - 1].scalar = composed
                    continue
                }
                switch Self.kind(scalar) {
                case .cjk:
                    flushWord(end: index)
                    cjk.append((scalar, index))
                case .word:
                    flushRun()
                    if word.isEmpty { wordStart = index }
                    word.append(scalar)
                case .mark:
                    // A combining mark stays with the word it follows.
                    if !word.isEmpty { word.append(scalar) }
                case .separator:
                    flushWord(end: index)
                    flushRun()
                }
            }
            index += 1
        }
        flushWord(end: index)
        flushRun()
        return tokens
    }

    // MARK: Characters

    enum Kind { case cjk, word, mark, separator }

    static func kind(_ scalar: Unicode.Scalar) -> Kind {
        let value = scalar.value
        if value < 0x80 {
            switch value {
            case 0x30...0x39, 0x61...0x7A, 0x41...0x5A: return .word
            default: return .separator
            }
        }
        if isCJK(value) { return .cjk }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.numericType != nil { return .word }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return .mark
        default: return .separator
        }
    }

    /// Han, Hiragana, Katakana (with the prolonged sound mark) and Hangul.
    static func isCJK(_ value: UInt32) -> Bool {
        switch value {
        case 0x3005, 0x3007: return true                     // 々 〇
        case 0x3041...0x309F: return true                    // Hiragana
        case 0x30A0...0x30FF: return true                    // Katakana, ー
        case 0x31F0...0x31FF: return true                    // Katakana phonetic extensions
        case 0x3400...0x4DBF, 0x4E00...0x9FFF: return true   // CJK ideographs
        case 0xF900...0xFAFF: return true                    // compatibility ideographs
        case 0x1100...0x11FF, 0x3130...0x318F, 0xAC00...0xD7AF: return true  // Hangul
        case 0x20000...0x3FFFF: return true                  // ideograph extensions
        default: return false
        }
    }

    static func compose(_ base: Unicode.Scalar, _ mark: Unicode.Scalar) -> Unicode.Scalar? {
        var pair = String.UnicodeScalarView()
        pair.append(base)
        pair.append(mark)
        let composed = String(pair).precomposedStringWithCanonicalMapping.unicodeScalars
        return composed.count == 1 ? composed.first : nil
    }

    /// NFKC and case folding of one character. ASCII, kana, common ideographs and Hangul
    /// syllables, which NFKC leaves alone, skip Foundation.
    static func fold(_ character: Character) -> String.UnicodeScalarView {
        let scalars = character.unicodeScalars
        if scalars.count == 1, let scalar = scalars.first {
            let value = scalar.value
            if value < 0x80 {
                if value >= 0x41 && value <= 0x5A { return String(Character(Unicode.Scalar(value + 0x20)!)).unicodeScalars }
                return scalars
            }
            switch value {
            case 0x3041...0x3096, 0x30A1...0x30FA, 0x30FC, 0x3005, 0x4E00...0x9FFF, 0xAC00...0xD7A3:
                return scalars
            default: break
            }
        }
        return String(character).precomposedStringWithCompatibilityMapping.lowercased().unicodeScalars
    }
}
