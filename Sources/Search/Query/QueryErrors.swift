import KirokuLog
import KirokuProjections

extension KirokuError.Code {
    /// A search query is not valid: the message names the column and what was expected.
    public static let querySyntax = Self("query-syntax")
    /// A search query names a field the wrong way (an unknown field, a range on a text field,
    /// a value that is not a number or a date).
    public static let invalidQuery = Self("invalid-query")
}
