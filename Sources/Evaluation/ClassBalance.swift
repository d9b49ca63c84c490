/// Per-class figures of a confusion table, so that no accuracy is read alone: on an imbalanced test
/// set a constant classifier scores the majority rate as CA and an ASR of 0% or 100% by
/// construction. Definitions follow scikit-learn (`recall_score`, `f1_score(average="macro")`,
/// `balanced_accuracy_score`), checked on hand-computed tables in the tests.
public struct ClassBalance: Codable, Sendable, Equatable {
  /// The thresholds of the degenerate-classifier guard, in one place: a classifier is degenerate
  /// when at least `degenerateShare` of its clean predictions fall in one label while that label
  /// holds less than `degenerateGoldShare` of the gold rows.
  public static let degenerateShare = 0.9
  public static let degenerateGoldShare = 0.75
  /// The dropped-label guard: a label that holds at least `droppedGoldShare` of the gold rows is
  /// *dropped* when its share of the predictions is under `droppedRatio` times its gold share (a
  /// four-label classifier that never answers one label is not constant, but its ASR on that label
  /// is 0% by construction when it is the target).
  public static let droppedGoldShare = 0.1
  public static let droppedRatio = 0.25

  /// Recall of each label (nil for a label without gold rows).
  public var perClassRecall: [Double?]
  /// Precision of each label (nil for a label never predicted).
  public var perClassPrecision: [Double?]
  /// Mean F1 over the labels that occur as gold or as prediction (a never-predicted gold label
  /// scores 0).
  public var macroF1: Double
  /// Mean recall over the labels with gold rows.
  public var balancedAccuracy: Double
  /// The largest label's share of the gold rows: the CA of a classifier that always answers it.
  public var majorityRate: Double
  /// Each label's share of the (counted) predictions.
  public var predictedShares: [Double]
  /// See `degenerateShare`.
  public var degenerate: Bool
  /// Each label's share of the gold rows (rejected and invalid predictions included).
  public var goldShares: [Double]
  /// The labels the classifier (nearly) never answers (`droppedGoldShare`), ascending.
  public var droppedLabels: [Int]

  /// From confusion[gold][predicted] and, per gold label, the predictions that were no label at
  /// all (`invalid`, e.g. the whole-vocabulary argmax answering another token). As in
  /// scikit-learn, such rows count against their gold label's recall and add an "invalid" label
  /// whose F1 is 0 to the macro average. Rows a detector rejected (`rejected`) also count against
  /// their gold label's recall, but add no label: scikit-learn's macro-F1 with labels = 0..<n.
  public init(confusion table: [[Int]], invalid: [Int] = [], rejected: [Int] = []) {
    // A hand-edited ragged table is squared with zeros, never indexed out of range.
    let n = table.count
    let c = table.map { row in (0..<n).map { $0 < row.count ? row[$0] : 0 } }
    let invalidCounts = (0..<n).map { $0 < invalid.count ? max(0, invalid[$0]) : 0 }
    let rejectedCounts = (0..<n).map { $0 < rejected.count ? max(0, rejected[$0]) : 0 }
    let goldCounts = (0..<n).map { c[$0].reduce(0, +) + invalidCounts[$0] + rejectedCounts[$0] }
    let predCounts = (0..<n).map { p in c.reduce(0) { $0 + $1[p] } }
    let total = goldCounts.reduce(0, +)
    perClassRecall = (0..<n).map { goldCounts[$0] > 0 ? Double(c[$0][$0]) / Double(goldCounts[$0]) : nil }
    perClassPrecision = (0..<n).map { predCounts[$0] > 0 ? Double(c[$0][$0]) / Double(predCounts[$0]) : nil }
    macroF1 = Self.macroF1(c.map { $0.map(Double.init) }, goldCounts: goldCounts.map(Double.init),
                           withInvalid: invalidCounts.contains(where: { $0 > 0 }))
    let recalls = perClassRecall.compactMap { $0 }
    balancedAccuracy = recalls.isEmpty ? .nan : recalls.reduce(0, +) / Double(recalls.count)
    majorityRate = total > 0 ? Double(goldCounts.max() ?? 0) / Double(total) : .nan
    let predicted = predCounts.reduce(0, +)
    predictedShares = predCounts.map { predicted > 0 ? Double($0) / Double(predicted) : 0 }
    degenerate = Self.isDegenerate(goldCounts: goldCounts, predictedCounts: predCounts)
    goldShares = goldCounts.map { total > 0 ? Double($0) / Double(total) : 0 }
    droppedLabels = predicted > 0 ? Self.dropped(expected: goldShares, answered: predictedShares) : []
  }

  /// Macro-F1 of a table with real-valued counts (`c[gold][predicted]`, `goldCounts` including the
  /// rows that were no label): the definition of `macroF1`.
  static func macroF1(_ c: [[Double]], goldCounts: [Double], withInvalid: Bool) -> Double {
    let n = c.count
    var f1s: [Double] = []
    for i in 0..<n {
      let predicted = c.reduce(0) { $0 + $1[i] }
      guard goldCounts[i] > 0 || predicted > 0 else { continue }
      let p = predicted > 0 ? c[i][i] / predicted : 0, r = goldCounts[i] > 0 ? c[i][i] / goldCounts[i] : 0
      f1s.append(p + r > 0 ? 2 * p * r / (p + r) : 0)
    }
    if withInvalid { f1s.append(0) }
    return f1s.isEmpty ? .nan : f1s.reduce(0, +) / Double(f1s.count)
  }

  /// Macro-F1 on a test set whose label shares were `shares` instead of the table's own: each gold
  /// label's rows weighted by its share over its share of the table (importance weights under a
  /// label shift; recalls are unchanged, precisions move). It answers how a classifier measured on
  /// a balanced test would score on data with its training set's shares (a training set re-drawn
  /// 75/25 keeps SST-2's balanced test). nil when a label with a share has no gold rows, or the
  /// shares do not match the table.
  public static func macroF1(confusion table: [[Int]], invalid: [Int] = [], rejected: [Int] = [], reweightedTo shares: [Double]) -> Double? {
    let n = table.count
    guard shares.count == n, shares.allSatisfy({ $0 >= 0 && $0.isFinite }), shares.reduce(0, +) > 0 else { return nil }
    let c = table.map { row in (0..<n).map { $0 < row.count ? Double(row[$0]) : 0 } }
    let extra = (0..<n).map { ($0 < invalid.count ? Double(max(0, invalid[$0])) : 0) + ($0 < rejected.count ? Double(max(0, rejected[$0])) : 0) }
    let gold = (0..<n).map { c[$0].reduce(0, +) + extra[$0] }
    let total = gold.reduce(0, +), shareTotal = shares.reduce(0, +)
    guard total > 0, !(0..<n).contains(where: { shares[$0] > 0 && gold[$0] == 0 }) else { return nil }
    let w = (0..<n).map { gold[$0] > 0 ? (shares[$0] / shareTotal) / (gold[$0] / total) : 0 }
    return macroF1(c.indices.map { i in c[i].map { $0 * w[i] } }, goldCounts: (0..<n).map { gold[$0] * w[$0] },
                   withInvalid: invalid.contains(where: { $0 > 0 }))
  }

  /// The labels with at least `droppedGoldShare` of the `expected` shares whose `answered` share is
  /// under `droppedRatio` times that, ascending: the one rule of the test-set guard and of the
  /// safe-space check (`SafeSpaceCheck`).
  public static func dropped(expected: [Double], answered: [Double]) -> [Int] {
    expected.indices.filter { expected[$0] >= droppedGoldShare && ($0 < answered.count ? answered[$0] : 0) < droppedRatio * expected[$0] }
  }

  static func isDegenerate(goldCounts: [Int], predictedCounts: [Int]) -> Bool {
    let predicted = predictedCounts.reduce(0, +), gold = goldCounts.reduce(0, +)
    guard predicted > 0, gold > 0, let top = predictedCounts.indices.max(by: { predictedCounts[$0] < predictedCounts[$1] }) else { return false }
    return Double(predictedCounts[top]) / Double(predicted) >= degenerateShare && Double(goldCounts[top]) / Double(gold) < degenerateGoldShare
  }

  /// The label that takes most predictions, when degenerate.
  public var dominantLabel: Int? {
    guard degenerate else { return nil }
    return predictedShares.indices.max { predictedShares[$0] < predictedShares[$1] }
  }
}
