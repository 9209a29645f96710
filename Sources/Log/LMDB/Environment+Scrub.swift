import CLMDB
import Foundation

/// What a scrub of free pages did.
public struct ScrubReport: Sendable, Hashable, Codable {
    /// Pages overwritten with zeros.
    public var pagesScrubbed = 0
    /// Free pages a reader's snapshot may still read, left as they are (scrub again once it ends).
    public var pagesPending = 0
    /// Pages in use whose unused middle held old bytes, now zeroed.
    public var gapsScrubbed = 0

    /// An empty report.
    public init() {}
}

extension Environment {
    /// Overwrites with zeros every page of the file that no snapshot can reach: the free pages
    /// LMDB itself may reuse now, and the pages past the last one in use.
    ///
    /// LMDB writes copies of pages (copy-on-write): a record rewritten or deleted leaves its old
    /// bytes in freed pages until a later write reuses them. Erasure must not leave them there.
    /// A free page is reusable (LMDB's own rule in `mdb_page_alloc`) when the transaction that
    /// freed it is older than every reader's snapshot and than the last commit; those pages
    /// are not part of any tree a reader or a crash recovery can see, so zeroing them changes
    /// nothing LMDB reads. `touch` makes two small commits first, so that the pages freed by the
    /// last real commits become reusable. Runs on the thread that owns this environment's
    /// write transactions; holding the write lock keeps every writer, in any process, off the
    /// pages meanwhile.
    func scrubFreePages(touch: (Transaction) throws -> Void) throws -> ScrubReport {
        // Buffers of pages dirtied before may hold the bytes to be gone (see `reopen`).
        try reopen()
        // Two small commits: the first copies the pages the last one wrote (out of the old
        // buffers), the second makes the first's freed pages reusable, so both get zeroed.
        try write { txn in try touch(txn) }
        try write { txn in try touch(txn) }
        return try write { _ in
            var dead: Int32 = 0
            mdb_reader_check(handle, &dead)
            var info = MDB_envinfo()
            mdb_env_info(handle, &info)
            let lastCommitted = info.me_last_txnid
            let oldest = min(lastCommitted, Self.oldestReader(handle) ?? lastCommitted)
            var stat = MDB_stat()
            mdb_env_stat(handle, &stat)
            let pageSize = Int(stat.ms_psize)
            var reusable: [Int] = []
            var report = ScrubReport()
            // LMDB opens no cursor on the free list in a write transaction: read it in a read
            // transaction of the same (last committed) state, begun under the write lock, so
            // no commit comes between. (Already inside the gate: no second `read`.)
            var reader: OpaquePointer?
            try lmdbCheck(mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &reader))
            defer { mdb_txn_abort(reader) }
            var cursor: OpaquePointer?
            try lmdbCheck(mdb_cursor_open(reader, 0, &cursor))
            defer { mdb_cursor_close(cursor) }
            var key = MDB_val(), value = MDB_val()
            var op = MDB_FIRST
            // The free list (database 0): the id of the transaction that freed the pages → the
            // page numbers, their count first.
            while mdb_cursor_get(cursor, &key, &value, op) == 0 {
                op = MDB_NEXT
                guard let keyData = key.mv_data, key.mv_size == MemoryLayout<Int>.size,
                      let data = value.mv_data, value.mv_size >= MemoryLayout<Int>.size else { continue }
                let freedBy = keyData.loadUnaligned(as: Int.self)
                let count = data.loadUnaligned(as: Int.self)
                guard count >= 0, (count + 1) * MemoryLayout<Int>.size <= value.mv_size else { continue }
                if freedBy < oldest {
                    if count > 0 {
                        for slot in 1...count {
                            reusable.append(data.loadUnaligned(fromByteOffset: slot * MemoryLayout<Int>.size, as: Int.self))
                        }
                    }
                } else {
                    // Still readable by a snapshot: their content stays until it ends (the pages
                    // the last commit freed are copies of pages in use after the erasure).
                    if freedBy < lastCommitted { report.pagesPending += count }
                }
            }
            var fd: Int32 = -1
            try lmdbCheck(mdb_env_get_fd(handle, &fd))
            let fileSize = lseek(fd, 0, SEEK_END)
            if fileSize > 0 {
                let filePages = Int(fileSize) / pageSize
                if filePages > info.me_last_pgno + 1 { reusable.append(contentsOf: (info.me_last_pgno + 1)..<filePages) }
            }
            reusable.sort()
            let zeros = [UInt8](repeating: 0, count: pageSize * 64)
            // Gaps of every other page, also of free pages a reader may still read (readers
            // never look at a gap): a page the last commits freed can still carry old bytes there.
            report.gapsScrubbed = try zeroGaps(fd: fd, info: info, pageSize: pageSize, skipping: Set(reusable), zeros: zeros)
            var index = 0
            while index < reusable.count {
                // A run of consecutive pages is one write (of at most 64 pages).
                var end = index + 1
                while end < reusable.count, reusable[end] == reusable[end - 1] + 1, end - index < 64 { end += 1 }
                let bytes = (end - index) * pageSize
                let written = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, bytes, off_t(reusable[index] * pageSize)) }
                guard written == bytes else { throw LMDBStatus(code: written < 0 ? errno : EIO) }
                index = end
            }
            if !reusable.isEmpty || report.gapsScrubbed > 0, fdatasync(fd) != 0 { throw LMDBStatus(code: errno) }
            report.pagesScrubbed = reusable.count
            return report
        }
    }

    /// Zeroes the unused middle of every page (between its node pointers and its nodes),
    /// where LMDB leaves the bytes of deleted or moved nodes and of the buffer the page was
    /// copied into; readers never look there, so it is safe on pages a snapshot still reads. Pages are read with `pread`; only gaps that are not zero yet are written.
    /// Returns how many were.
    private func zeroGaps(fd: Int32, info: MDB_envinfo, pageSize: Int, skipping: Set<Int>, zeros: [UInt8]) throws -> Int {
        let headerSize = 16, branch: UInt16 = 0x01, leaf: UInt16 = 0x02, overflow: UInt16 = 0x04, leaf2: UInt16 = 0x20
        var buffer = [UInt8](repeating: 0, count: pageSize)
        var written = 0
        var page = 2  // 0 and 1 are the meta pages
        while page <= info.me_last_pgno {
            defer { page += 1 }
            if skipping.contains(page) { continue }
            let read = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, pageSize, off_t(page * pageSize)) }
            guard read == pageSize else { break }
            let action: (skip: Int, gap: Range<Int>?) = buffer.withUnsafeBytes { base in
                guard base.loadUnaligned(as: UInt64.self) == UInt64(page) else { return (0, nil) }
                let flags = base.loadUnaligned(fromByteOffset: 10, as: UInt16.self)
                if flags & overflow != 0 {
                    // A value's pages: the run goes on without headers; its last page's tail
                    // was zeroed when the run was allocated.
                    return (max(1, Int(base.loadUnaligned(fromByteOffset: 12, as: UInt32.self))) - 1, nil)
                }
                guard flags & (branch | leaf) != 0, flags & leaf2 == 0 else { return (0, nil) }
                let lower = Int(base.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
                let upper = Int(base.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
                guard headerSize <= lower, lower < upper, upper <= pageSize,
                      !UnsafeRawBufferPointer(rebasing: base[lower..<upper]).allSatisfy({ $0 == 0 }) else { return (0, nil) }
                return (0, lower..<upper)
            }
            page += action.skip
            guard let gap = action.gap else { continue }
            let done = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, gap.count, off_t(page * pageSize + gap.lowerBound)) }
            guard done == gap.count else { throw LMDBStatus(code: done < 0 ? errno : EIO) }
            written += 1
        }
        return written
    }

    /// The oldest snapshot a reader of any process holds (`mdb_reader_list` lists the reader
    /// table as text: pid, thread, transaction id or "-" for an idle slot).
    private static func oldestReader(_ env: OpaquePointer) -> Int? {
        final class Lines { var text = "" }
        let lines = Lines()
        let context = Unmanaged.passUnretained(lines).toOpaque()
        mdb_reader_list(env, { message, context in
            guard let message, let context else { return 0 }
            Unmanaged<Lines>.fromOpaque(context).takeUnretainedValue().text += String(cString: message)
            return 0
        }, context)
        var oldest: Int?
        for line in lines.text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let txnid = Int(fields[2]) else { continue }
            oldest = min(oldest ?? txnid, txnid)
        }
        return oldest
    }
}
