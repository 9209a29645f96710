// A deterministic corpus of sales-activity records, the motivating team's data shape: owners
// and customers drawn from Zipf distributions, statuses, dates over three years, amounts, and
// text that is 70% Japanese and 30% English.
import Foundation
import KirokuLog

/// SplitMix64: the same corpus on every machine.
public struct CorpusRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// A generator that starts from `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Draws 0..<count with probability proportional to 1/(rank+1)^s.
public struct Zipf: Sendable {
    let cumulative: [Double]
    /// A Zipf distribution over `count` ranks.
    public init(count: Int, exponent: Double = 1.07) {
        var total = 0.0
        var cumulative: [Double] = []
        for rank in 1...count {
            total += 1 / pow(Double(rank), exponent)
            cumulative.append(total)
        }
        self.cumulative = cumulative.map { $0 / total }
    }
    /// A rank, 0 most likely.
    public func next(_ random: inout CorpusRandom) -> Int {
        let u = Double.random(in: 0..<1, using: &random)
        var low = 0, high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] < u { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// One activity.
public struct Activity: Sendable, Codable {
    /// The partition key, `activity-<n>`.
    public var key: String
    /// Japanese (70%) or English text.
    public var text: String
    /// `user-NNN`, Zipf-distributed.
    public var owner: String
    /// `CNNNN`, Zipf-distributed.
    public var customer: String
    /// open, won, lost or on-hold.
    public var status: String
    /// 1,000 to 10,000,000, log-uniform.
    public var amount: Double
    /// ISO 8601, UTC.
    public var date: String
    /// Seconds since 1970.
    public var epoch: Double
    /// The deal it belongs to, `D000000` to `D099999` (the join benchmark's deals).
    public var deal: String
}

/// The corpus: `Activity` number `i` is the same on every run.
public struct ActivityCorpus: Sendable {
    /// Distinct owners.
    public static let owners = 200
    /// Distinct customers.
    public static let customers = 2000
    /// The statuses.
    public static let statuses = ["open", "won", "lost", "on-hold"]
    static let start = 1_640_995_200.0 // 2022-01-01T00:00:00Z
    static let span = 3 * 365 * 86_400.0

    let ownerZipf = Zipf(count: owners)
    let customerZipf = Zipf(count: customers)

    /// The corpus.
    public init() {}

    /// The owner of rank `i`.
    public static func owner(_ i: Int) -> String { String(format: "user-%03d", i) }
    /// The customer of rank `i`.
    public static func customer(_ i: Int) -> String { String(format: "C%04d", i) }
    /// Distinct deals.
    public static let deals = 100_000
    /// The deal numbered `i`.
    public static func deal(_ i: Int) -> String { String(format: "D%06d", i) }

    static let familyNames = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "山本", "松本", "井上", "木村", "林", "清水", "森", "池田", "橋本"]
    static let places = ["東京", "大阪", "京都", "名古屋", "横浜", "札幌", "福岡", "神戸", "仙台", "広島"]
    static let businesses = ["商事", "物産", "工業", "製作所", "電機", "建設", "不動産", "食品", "運輸", "システム"]
    static let englishNames = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne", "Soylent"]
    static let englishKinds = ["Corp", "Industries", "Holdings", "Labs", "Systems", "Trading", "Foods", "Logistics", "Bank", "Motors"]
    static let products = ["クラウド会計", "勤怠管理", "在庫管理システム", "CRM", "経費精算", "電子契約", "セキュリティ診断", "データ分析基盤"]
    static let productsEn = ["cloud accounting", "time tracking", "inventory", "CRM", "expense", "e-signature", "security audit", "analytics"]
    static let topics = ["導入スケジュール", "価格改定", "契約更新", "追加ライセンス", "保守サポート", "障害対応", "要件定義", "移行計画"]
    static let followups = ["来週再訪問予定。", "見積を再提出する。", "先方の稟議待ち。", "次回はデモを実施。", "担当者変更のため引き継ぎ。", "来月に契約予定。", ""]
    static let reactions = ["反応は良好。", "価格面で懸念あり。", "競合と比較中とのこと。", "決裁者の同席を依頼。", ""]
    static let followupsEn = ["Follow up next week.", "Waiting for their approval.", "Send the revised quote.", "Schedule a demo with the CTO.", ""]
    static let reactionsEn = ["they liked the pricing.", "concerns about migration.", "comparing with a competitor.", "asked for a discount.", ""]

    /// The display name of customer `i` (Japanese for most, English for some).
    public static func customerName(_ i: Int) -> String {
        if i % 5 == 4 { return "\(englishNames[i % 10]) \(englishKinds[(i / 10) % 10])" }
        let family = familyNames[i % familyNames.count]
        let place = places[(i / 20) % places.count]
        let business = businesses[(i / 200) % businesses.count]
        return i % 3 == 0 ? "株式会社\(place)\(business)" : "\(family)\(business)"
    }

    /// Activity number `i`.
    public func activity(_ i: Int) -> Activity {
        var random = CorpusRandom(seed: 0x4B49_524F_4B55 &+ UInt64(i) &* 0x9E37_79B9)
        let owner = ownerZipf.next(&random)
        let customer = customerZipf.next(&random)
        let roll = Double.random(in: 0..<1, using: &random)
        let status = roll < 0.5 ? "open" : roll < 0.7 ? "won" : roll < 0.9 ? "lost" : "on-hold"
        let amount = (pow(10, Double.random(in: 3...7, using: &random))).rounded()
        let epoch = (Self.start + Double.random(in: 0..<Self.span, using: &random)).rounded()
        let name = Self.customerName(customer)
        func pick(_ list: [String]) -> String { list.randomElement(using: &random)! }
        let text: String
        if Double.random(in: 0..<1, using: &random) < 0.7 {
            switch Int.random(in: 0..<4, using: &random) {
            case 0: text = "\(name)の\(pick(Self.familyNames))様と\(pick(Self.topics))について打ち合わせ。\(pick(Self.followups))"
            case 1: text = "\(name)に\(pick(Self.products))の見積を送付した。\(pick(Self.followups))"
            case 2: text = "\(name)を訪問し、\(pick(Self.products))のデモを実施。\(pick(Self.reactions))"
            default: text = "電話で\(name)の\(pick(Self.familyNames))様に\(pick(Self.topics))を説明。\(pick(Self.reactions))\(pick(Self.followups))"
            }
        } else {
            switch Int.random(in: 0..<3, using: &random) {
            case 0: text = "Called \(name) about the \(pick(Self.productsEn)) renewal. \(pick(Self.followupsEn))"
            case 1: text = "Visited \(name) for a \(pick(Self.productsEn)) demo; \(pick(Self.reactionsEn))"
            default: text = "Sent a quote for \(pick(Self.productsEn)) to \(name). \(pick(Self.followupsEn))"
            }
        }
        let date = Date(timeIntervalSince1970: epoch).formatted(.iso8601)
        // Drawn last, so the fields before it are what they were before deals existed.
        let deal = Self.deal(Int.random(in: 0..<Self.deals, using: &random))
        return Activity(key: "activity-\(i)", text: text, owner: Self.owner(owner), customer: Self.customer(customer),
                        status: status, amount: amount, date: date, epoch: epoch, deal: deal)
    }

    /// Appends activities `range` to `log` as `ActivityLogged` records, 1000 per commit, and
    /// reports the number appended after each commit.
    public func append(_ range: Range<Int>, to log: EventLog, progress: (Int) -> Void = { _ in }) async throws {
        let encoder = JSONEncoder()
        for start in stride(from: range.lowerBound, to: range.upperBound, by: 1000) {
            let groups = try (start..<min(range.upperBound, start + 1000)).map { i -> AppendGroup in
                let activity = activity(i)
                return AppendGroup(key: activity.key, events: [EventData(type: "ActivityLogged", payload: try encoder.encode(activity))])
            }
            _ = try await log.append(groups)
            progress(start + groups.count - range.lowerBound)
        }
    }

    /// The search view mapping for the corpus (the JSON form of docs/SEARCH.md).
    public static let mapping = """
    {
      "types": ["ActivityLogged"],
      "id": "key",
      "fields": {
        "text":     {"path": "$.text",     "type": "text"},
        "owner":    {"path": "$.owner",    "type": "keyword"},
        "customer": {"path": "$.customer", "type": "keyword"},
        "status":   {"path": "$.status",   "type": "keyword"},
        "amount":   {"path": "$.amount",   "type": "number"},
        "date":     {"path": "$.date",     "type": "date"},
        "deal":     {"path": "$.deal",     "type": "keyword"}
      }
    }
    """

    /// A view of the deals: one document per deal (its id is the deal), with the customer,
    /// owner and status of its latest activity. The join benchmark joins it with the activities.
    public static let dealsMapping = """
    {
      "types": ["ActivityLogged"],
      "id": "$.deal",
      "fields": {
        "customer": {"path": "$.customer", "type": "keyword"},
        "owner":    {"path": "$.owner",    "type": "keyword"},
        "status":   {"path": "$.status",   "type": "keyword"}
      }
    }
    """
}
