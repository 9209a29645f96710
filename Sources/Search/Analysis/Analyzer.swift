import Foundation
import KirokuLog
import KirokuProjections

/// Turns text into the terms the search view indexes and queries: deterministic, with no
/// language detection (it misfires on short Japanese texts).
///
/// 1. Each Unicode scalar is normalized with NFKC and lowercased, and a combining mark is
///    composed with the letter before it, so full-width `ＡＢＣ` matches `abc`, half-width
///    `ｶﾞ` matches `ガ`, and a decomposed `é` matches a precomposed one.
/// 2. Runs of Han, Hiragana, Katakana and Hangul become overlapping bigrams (`東京都` gives
///    `東京`, `京都`), plus the run's last character as a unigram (`都`); a lone CJK character
///    is a unigram. So a CJK substring of two or more characters is a sequence of bigrams, and
///    a single character is found as the first character of a term (see ``Token``).
/// 3. Other letters and digits form words, split at every other character (spaces,
///    punctuation, symbols), as Unicode word boundaries do for alphabetic scripts.
///
/// Positions count characters inside CJK runs (the bigram at run offset `i` has position
/// `start + i`) and words one by one, so adjacency in positions is adjacency in the text.
///
/// With `foldKana` (a text field's `"foldKana": true`), katakana fold to hiragana after NFKC
/// (`カタカナ`, `ｶﾀｶﾅ` and `かたかな` are one term), so a query in either script finds both;
/// the prolonged sound mark `ー` and the iteration marks follow (`ヽヾ` → `ゝゞ`).
public struct Analyzer: Sendable {
    /// One indexed term.
    public struct Token: Sendable, Hashable {
        /// The normalized term.
        public var term: String
        /// Its position (see ``Analyzer``).
        public var position: Int
        /// The range of Unicode scalars of the original text it came from (offsets into
        /// `text.unicodeScalars`).
        public var range: Range<Int>
        /// Whether the term is CJK (a bigram or a unigram) rather than a word.
        public var isCJK: Bool
    }

    /// Whether katakana fold to hiragana.
    public let foldKana: Bool

    /// Makes an analyzer; `foldKana` folds katakana to hiragana.
    public init(foldKana: Bool = false) {
        self.foldKana = foldKana
    }

    /// The analyzer of a field: its options (``SearchMapping/Field/foldKana``).
    public init(for field: SearchMapping.Field) {
        self.init(foldKana: field.foldKana)
    }

    /// Katakana → hiragana: ァ…ヶ (U+30A1…U+30F6) to ぁ…ゖ, ヽヾ to ゝゞ; anything else as it is.
    static func foldedKana(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x30A1...0x30F6, 0x30FD, 0x30FE: return Unicode.Scalar(scalar.value - 0x60)!
        default: return scalar
        }
    }

    /// The normalized form of `text`: Unicode NFKC, then lowercase. Tokens are the terms of
    /// this text (``tokens(_:)`` normalizes character by character, to keep track of where
    /// each term came from).
    public func normalize(_ text: String) -> String {
        let normalized = text.precomposedStringWithCompatibilityMapping.lowercased()
        guard foldKana else { return normalized }
        var folded = String.UnicodeScalarView()
        for scalar in normalized.unicodeScalars { folded.append(Self.foldedKana(scalar)) }
        return String(folded)
    }

    /// The terms of `text`, in order.
    public func tokens(_ text: String) -> [Token] {
        var tokens: [Token] = []
        tokens.reserveCapacity(text.utf8.count / 3)
        var position = 0
        // The current word or CJK run: its scalars and, for each CJK one, the original index.
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
            if cjk.count > 1 {
                for i in 0..<cjk.count - 1 {
                    var pair = String.UnicodeScalarView()
                    pair.append(cjk[i].scalar)
                    pair.append(cjk[i + 1].scalar)
                    tokens.append(Token(term: String(pair), position: position + i,
                                        range: cjk[i].index..<cjk[i + 1].index + 1, isCJK: true))
                }
            }
            let last = cjk[cjk.count - 1]
            var single = String.UnicodeScalarView()
            single.append(last.scalar)
            tokens.append(Token(term: String(single), position: position + cjk.count - 1,
                                range: last.index..<last.index + 1, isCJK: true))
            position += cjk.count
            cjk.removeAll(keepingCapacity: true)
        }
        let foldKana = foldKana
        func add(_ scalar: Unicode.Scalar) {
            switch Self.kind(scalar) {
            case .cjk:
                flushWord(end: index)
                cjk.append((foldKana ? Self.foldedKana(scalar) : scalar, index))
            case .word:
                flushRun()
                if word.isEmpty { wordStart = index }
                word.append(scalar)
            case .mark:
                // A combining mark composes with the letter before it (e + ◌́ → é, ｶ + ﾞ → ガ),
                // or stays with its word.
                if !cjk.isEmpty, let composed = Self.compose(cjk[cjk.count - 1].scalar, scalar) {
                    cjk[cjk.count - 1].scalar = foldKana ? Self.foldedKana(composed) : composed
                } else if let last = word.last {
                    if let composed = Self.compose(last, scalar) {
                        word.removeLast()
                        word.append(composed)
                    } else {
                        word.append(scalar)
                    }
                }
            case .separator:
                flushWord(end: index)
                flushRun()
            }
        }

        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                // ASCII: letters and digits make words, everything else separates.
                if value >= 0x61 && value <= 0x7A || value >= 0x30 && value <= 0x39 {
                    flushRun()
                    if word.isEmpty { wordStart = index }
                    word.append(scalar)
                } else if value >= 0x41 && value <= 0x5A {
                    flushRun()
                    if word.isEmpty { wordStart = index }
                    word.append(Unicode.Scalar(value + 0x20)!)
                } else {
                    flushWord(end: index)
                    flushRun()
                }
            } else if Self.isStable(value) {
                add(scalar)
            } else {
                for folded in Self.fold(scalar) { add(folded) }
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
        if value == 0x3099 || value == 0x309A { return .mark }  // combining voiced sound marks
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

    /// Scalars that NFKC and lowercasing leave alone and that need no lookup: kana, common
    /// ideographs, Hangul syllables, and CJK punctuation.
    static func isStable(_ value: UInt32) -> Bool {
        switch value {
        case 0x3001...0x3003, 0x3008...0x3011, 0x3014...0x301F: return true
        case 0x3041...0x3096, 0x30A1...0x30FA, 0x30FC, 0x3005, 0x4E00...0x9FFF, 0xAC00...0xD7A3: return true
        default: return false
        }
    }

    /// NFKC and lowercase of scalars outside the fast paths, remembered once computed.
    private static let folded = Locked<[UInt32: [Unicode.Scalar]]>([:])

    static func fold(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        if let known = folded.withLock({ $0[scalar.value] }) { return known }
        let result = Array(String(Character(scalar)).precomposedStringWithCompatibilityMapping.lowercased().unicodeScalars)
        folded.withLock { cache in
            if cache.count < 65_536 { cache[scalar.value] = result }
        }
        return result
    }
}
