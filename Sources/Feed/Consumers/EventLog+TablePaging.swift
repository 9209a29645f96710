import KirokuLog

extension EventLog {
    /// Every entry of `table` whose key starts with `prefix`, in key order, read in short read
    /// transactions of `pageSize` entries each.
    func allEntries(in table: LogTable, prefix: [UInt8] = [], pageSize: Int = 500) throws -> [(key: [UInt8], value: [UInt8])] {
        var all: [(key: [UInt8], value: [UInt8])] = []
        var after: [UInt8]?
        while true {
            let page = try entries(in: table, prefix: prefix, after: after, limit: pageSize)
            guard let last = page.last else { return all }
            all += page
            after = last.key
        }
    }
}
