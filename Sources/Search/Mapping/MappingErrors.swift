import KirokuFeed
import Foundation
import KirokuLog
import KirokuProjections

extension KirokuError.Code {
    /// A search mapping (JSON or Swift) is not valid.
    public static let invalidMapping = Self("invalid-mapping")
    /// A record's payload does not fit the search mapping (not JSON, or a value of the wrong type).
    public static let mappingFailed = Self("mapping-failed")
}
