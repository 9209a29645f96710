import Foundation
import KirokuLog

/// The reaction crash campaign's workload, shared by the worker that is killed
/// (`LogTestHelper react`) and the harness that checks what survived: orders, and a consumer
/// that reacts to each with an invoice and a ledger line in one atomic append.
public enum ReactionWorkload {
    public static let consumer = "invoicing"
    public static let orderKeys = (0..<40).map { "order-\($0)" }

    /// The reaction to one order: two groups. The payload carries a fresh UUID, so a reaction
    /// made twice differs from the first (its repeat would be `id-reused`, not a silent
    /// duplicate-free repeat): only the processor's completion mark keeps it to one.
    public static func react(to record: Record) -> [AppendGroup] {
        let nonce = UUID().uuidString
        return [
            AppendGroup(key: "invoice-\(record.key)", events: [
                EventData(type: "InvoiceDue", payload: Data(#"{"order":\#(record.position),"nonce":"\#(nonce)"}"#.utf8)),
            ]),
            AppendGroup(key: "ledger", events: [
                EventData(type: "Ledger", payload: Data(#"{"order":\#(record.position),"nonce":"\#(nonce)"}"#.utf8)),
            ]),
        ]
    }
}
