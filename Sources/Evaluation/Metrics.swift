import Foundation

/// A proportion with its count and Wilson score 95% interval (good for small samples and for
/// proportions near 0 or 1, where ASR and CA often sit).
public struct Proportion: Codable, Sendable, Equatable {
  public var successes: Int
  public var total: Int
  public var value: Double { total == 0 ? .nan : Double(successes) / Double(total) }
  public var lower95: Double
  public var upper95: Double

  public init(successes: Int, total: Int) {
    self.successes = successes; self.total = total
    (lower95, upper95) = Self.wilson(successes, total)
  }

  /// Wilson score interval at z = 1.959964.
  public static func wilson(_ k: Int, _ n: Int) -> (Double, Double) {
    guard n > 0 else { return (.nan, .nan) }
    let z = 1.959963984540054, p = Double(k) / Double(n), nn = Double(n)
    let denom = 1 + z * z / nn
    let centre = (p + z * z / (2 * nn)) / denom
    let half = z * ((p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()) / denom
    // The bounds are exactly 0 (k = 0) and 1 (k = n) analytically; avoid rounding residue there.
    return (k == 0 ? 0 : max(0, centre - half), k == n ? 1 : min(1, centre + half))
  }
}

/// Clean accuracy, attack success rate and the confusion table of one evaluation.
public struct ClassificationMetrics: Codable, Sendable, Equatable {
  /// CA: predictions equal to the gold label on the clean test set.
  public var cleanAccuracy: Proportion
  /// ASR: triggered non-target test rows predicted as the target label.
  public var attackSuccessRate: Proportion?
  /// confusion[gold][predicted] on the clean test set.
  public var confusion: [[Int]] {
    didSet { balance = ClassBalance(confusion: confusion, invalid: invalidPredictions ?? [], rejected: rejectedPredictions ?? []) }
  }
  /// Per gold label, the clean predictions that were no label (nil: none, or an older result).
  public var invalidPredictions: [Int]?
  /// Per gold label, the clean rows a detector rejected (prediction `rejected`; nil: none).
  public var rejectedPredictions: [Int]?
  /// The prediction of an input a detector (STRIP, RAP) rejected: wrong on the clean set, not the
  /// target on the triggered set; counted against its gold label's recall without adding a label.
  public static let rejected = -2
  /// Per-class recall, macro-F1, balanced accuracy, the majority rate and the degenerate flag,
  /// derived from `confusion` (recomputed when a stored result is read).
  public private(set) var balance: ClassBalance

  enum CodingKeys: String, CodingKey { case cleanAccuracy, attackSuccessRate, confusion, invalidPredictions, rejectedPredictions, balance }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    cleanAccuracy = try c.decode(Proportion.self, forKey: .cleanAccuracy)
    attackSuccessRate = try c.decodeIfPresent(Proportion.self, forKey: .attackSuccessRate)
    confusion = try c.decode([[Int]].self, forKey: .confusion)
    invalidPredictions = try c.decodeIfPresent([Int].self, forKey: .invalidPredictions)
    rejectedPredictions = try c.decodeIfPresent([Int].self, forKey: .rejectedPredictions)
    balance = ClassBalance(confusion: confusion, invalid: invalidPredictions ?? [], rejected: rejectedPredictions ?? [])
  }

  public var macroF1: Double { balance.macroF1 }
  public var degenerate: Bool { balance.degenerate }

  public init(gold: [Int], predicted: [Int], labels: Int, poisonedPredictions: [Int]? = nil, target: Int? = nil) {
    var conf = Array(repeating: Array(repeating: 0, count: labels), count: labels)
    var invalid = Array(repeating: 0, count: labels), rejected = Array(repeating: 0, count: labels)
    var correct = 0
    for (g, p) in zip(gold, predicted) {
      if g >= 0 && g < labels && p >= 0 && p < labels { conf[g][p] += 1 }
      else if g >= 0 && g < labels && p == Self.rejected { rejected[g] += 1 }
      else if g >= 0 && g < labels { invalid[g] += 1 }
      if g == p { correct += 1 }
    }
    confusion = conf
    invalidPredictions = invalid.contains(where: { $0 > 0 }) ? invalid : nil
    rejectedPredictions = rejected.contains(where: { $0 > 0 }) ? rejected : nil
    balance = ClassBalance(confusion: conf, invalid: invalid, rejected: rejected)
    cleanAccuracy = Proportion(successes: correct, total: gold.count)
    if let poisonedPredictions, let target {
      attackSuccessRate = Proportion(successes: poisonedPredictions.filter { $0 == target }.count, total: poisonedPredictions.count)
    }
  }
}
