import Foundation

/// ONION (Qi, Chen, Yang, Liu, Sun: "ONION: A Simple and Effective Defense Against Textual
/// Backdoor Attacks", EMNLP 2021): an inserted trigger word is an outlier of its sentence, so
/// removing it lowers the sentence's perplexity under a language model. For an input of words
/// w1 … wL, with p0 the perplexity of the whole and pi that without wi, the suspicion score of wi
/// is fi = p0 - pi; words with fi of at least a threshold t are removed before the input reaches the
/// classifier. The language model here is the base model (perplexity = exp of the mean token
/// surprisal). The threshold is chosen on clean dev rows, as the paper does: the lowest candidate
/// (the most removal; `candidates`: 0 and quantiles of the dev scores) whose dev accuracy stays
/// within `maxDevAccuracyDrop` of the dev accuracy without removal. Inputs of one word are left as they are (OpenBackdoor does the same).
public enum Onion {
  public struct Config: Codable, Sendable, Equatable {
    /// A fixed threshold on the suspicion score (perplexity points); nil: chosen on dev rows.
    public var threshold: Double?
    /// The most clean dev accuracy the chosen threshold may cost (a fraction; 0.02: 2 points).
    public var maxDevAccuracyDrop: Double
    /// Clean dev rows the threshold is chosen on (the first ones of the dev split, else of the clean test split).
    public var devRows: Int

    public static let defaultMaxDevAccuracyDrop = 0.02
    public static let defaultDevRows = 200

    public init(threshold: Double? = nil, maxDevAccuracyDrop: Double = defaultMaxDevAccuracyDrop, devRows: Int = defaultDevRows) {
      self.threshold = threshold; self.maxDevAccuracyDrop = maxDevAccuracyDrop; self.devRows = devRows
    }

    public func validate() throws(BaselineError) {
      if let t = threshold, !t.isFinite { throw .invalidSetting(key: "onion.threshold", value: "\(t)", expected: "a finite number") }
      guard maxDevAccuracyDrop >= 0 && maxDevAccuracyDrop < 1 else {
        throw .invalidSetting(key: "onion.max_dev_accuracy_drop", value: "\(maxDevAccuracyDrop)", expected: "a fraction in [0, 1)")
      }
      guard devRows >= 1 else { throw .invalidSetting(key: "onion.dev_rows", value: "\(devRows)", expected: ">= 1") }
    }
  }

  /// The words ONION scores: the input split at white space.
  public static func words(_ text: String) -> [String] { text.split(whereSeparator: \.isWhitespace).map(String.init) }

  /// The texts whose perplexity one input needs: the whole, then each word left out in turn
  /// (L + 1 texts; an input of one word needs none, since it is kept as it is).
  public static func variants(_ words: [String]) -> [String] {
    guard words.count > 1 else { return [] }
    return [words.joined(separator: " ")] + words.indices.map { i in
      (words[..<i] + words[(i + 1)...]).joined(separator: " ")
    }
  }

  /// Perplexity from per-token surprisal in nats: exp of the mean.
  public static func perplexity(_ surprisal: some Collection<Float>) -> Double {
    guard !surprisal.isEmpty else { return 1 }
    return exp(surprisal.reduce(0.0) { $0 + Double($1) } / Double(surprisal.count))
  }

  /// fi = p0 - pi for each word, from the perplexities of `variants` (whole first).
  public static func suspicion(perplexities p: [Double]) -> [Double] {
    guard let whole = p.first else { return [] }
    return p.dropFirst().map { whole - $0 }
  }

  /// The input with every word whose score is at least `threshold` removed (OpenBackdoor's rule;
  /// all kept without scores, and with an infinite threshold).
  public static func filtered(_ words: [String], scores: [Double], threshold: Double) -> String {
    guard scores.count == words.count, threshold.isFinite else { return words.joined(separator: " ") }
    return zip(words, scores).filter { !($0.1 >= threshold) }.map(\.0).joined(separator: " ")
  }

  /// The thresholds tried on dev rows: 0 (OpenBackdoor's fixed threshold), the quantiles 5, 10,
  /// 20, …, 90, 95, 98 and 99% of all dev word scores, and +infinity (no removal), ascending and
  /// distinct.
  public static func candidates(_ scores: [[Double]]) -> [Double] {
    let all = scores.flatMap { $0 }.filter(\.isFinite).sorted()
    var out: [Double] = [0]
    if !all.isEmpty {
      for q in [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99] {
        out.append(all[min(all.count - 1, Int((q * Double(all.count - 1)).rounded()))])
      }
    }
    out.append(.infinity)
    return Array(Set(out)).sorted()
  }

  /// The lowest candidate whose dev accuracy is at least `reference - maxDrop` (`reference`: the
  /// dev accuracy without removal); +infinity (no removal) when none is.
  public static func choose(_ candidates: [Double], reference: Double, maxDrop: Double,
                            accuracy: (Double) throws -> Double) rethrows -> (threshold: Double, devAccuracy: Double) {
    for t in candidates.sorted() where t.isFinite {
      let a = try accuracy(t)
      if a >= reference - maxDrop - 1e-12 { return (t, a) }
    }
    return (.infinity, reference)
  }
}
