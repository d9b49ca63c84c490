/// The label shares the relative spectral screen compares a training set's with
/// (`RelativeSpectral.judge`): a dirty-label attack raises its target's share of the training rows
/// by about the poison rate, which a split the attacker did not touch does not show.
public struct LabelReference: Codable, Sendable, Equatable {
  /// One share per label, summing to 1.
  public var shares: [Double]
  /// Rows the shares were counted from (their sampling error counts); nil when they are not a sample.
  public var rows: Int?
  /// Where they come from, for the report.
  public var source: String

  public init(shares: [Double], rows: Int?, source: String) {
    self.shares = shares; self.rows = rows; self.source = source
  }

  /// Equal shares, when there is nothing to count (`source` says why).
  public static func uniform(_ classes: Int, source: String = "uniform (no dev split)") -> LabelReference {
    LabelReference(shares: [Double](repeating: 1 / Double(max(1, classes)), count: max(1, classes)), rows: nil, source: source)
  }

  /// The shares of `labels` (e.g. the dataset's dev split), one per label in 0..<classes.
  public static func counted(_ labels: [Int], classes: Int, source: String) throws(DefenseError) -> LabelReference {
    guard !labels.isEmpty else {
      throw .invalidConfig(key: "reference label shares", value: "\(source): no rows", expected: "at least one labelled row")
    }
    var counts = [Int](repeating: 0, count: classes)
    for (i, y) in labels.enumerated() {
      guard y >= 0 && y < classes else { throw .badLabel(row: i, label: y, labels: classes) }
      counts[y] += 1
    }
    return LabelReference(shares: counts.map { Double($0) / Double(labels.count) }, rows: labels.count, source: "\(source) (\(labels.count) rows)")
  }
}
