import TensorCore

/// A training set re-drawn with chosen label shares, to measure a defense on imbalanced data
/// (e.g. SST-2 at 75/25 and 25/75). Label l gets round(share_l · N) rows (the rounding remainder
/// goes to the largest share), drawn uniformly without replacement from that label's rows; the
/// subset keeps file order.
public struct LabelShares: Sendable, Equatable {
  public var shares: [Double]

  public init(_ shares: [Double]) { self.shares = shares }

  /// The number of rows of each label in a subset of `rows`.
  public func counts(rows: Int) -> [Int] {
    var c = shares.map { Int(($0 * Double(rows)).rounded(.down)) }
    if let top = shares.indices.max(by: { shares[$0] < shares[$1] }) { c[top] += rows - c.reduce(0, +) }
    return c
  }

  /// Checks the shares against the dataset's label count.
  public func validate(labels: Int) throws(DatasetError) {
    let text = shares.map { "\($0)" }.joined(separator: ",")
    guard shares.count == labels else {
      throw .invalidSetting(key: "label shares", value: text, expected: "\(labels) fractions, one per label")
    }
    guard shares.allSatisfy({ $0 >= 0 && $0 <= 1 }), abs(shares.reduce(0, +) - 1) < 1e-6 else {
      throw .invalidSetting(key: "label shares", value: text, expected: "fractions in [0, 1] that sum to 1")
    }
  }

  /// The most rows, at most `limit`, a subset of `examples` can have with these shares (each
  /// label's count within its rows).
  public func largestDraw(from examples: [Example], limit: Int) -> Int {
    var n = min(limit, examples.count)
    let available = shares.indices.map { l in examples.filter { $0.label == l }.count }
    while n > 0 && zip(counts(rows: n), available).contains(where: { $0 > $1 }) { n -= 1 }
    return n
  }

  /// `rows` rows of `train` with these shares.
  public func draw(from train: [Example], rows: Int, labels: Int, path: String,
                   using rng: inout some RandomNumberGenerator) throws(DatasetError) -> [Example] {
    try validate(labels: labels)
    var chosen: [Int] = []
    for (label, want) in counts(rows: rows).enumerated() {
      let pool = train.indices.filter { train[$0].label == label }
      guard want <= pool.count else {
        throw .invalidSetting(key: "label shares", value: shares.map { "\($0)" }.joined(separator: ","),
                              expected: "at most \(pool.count) rows of label \(label) (\(path) has that many); \(want) needed for \(rows) rows")
      }
      chosen += PoisonPlan.sample(pool, want, &rng)
    }
    return chosen.sorted().map { train[$0] }
  }
}
