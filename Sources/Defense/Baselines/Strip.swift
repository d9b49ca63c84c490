import Foundation
import TensorCore

/// STRIP (Gao, Xu, Wang, Chen, Ranasinghe, Nepal: "STRIP: A Defence Against Trojan Attacks on Deep
/// Neural Networks", ACSAC 2019), text variant as in OpenBackdoor: an input is perturbed
/// `repeats` times by replacing a share `swapRatio` of its words, at random positions, with the
/// words of highest tf-idf of a random clean dev row; a triggered input keeps its prediction
/// (the trigger dominates), so the entropy of its predictions over the copies is low. The
/// threshold is the entropy below which only `frr` of the clean dev rows fall; an input below it
/// is flagged and rejected.
///
/// Differences from OpenBackdoor, on purpose: each input's entropy is the mean over its own copies
/// (OpenBackdoor's reshape mixes rows of different inputs); tf-idf is computed here (raw counts,
/// smooth idf, words of two or more letters or digits, lower case) without scikit-learn's English
/// stop-word list; a dev row with fewer ranked words than replacements is cycled.
public enum Strip {
  public struct Config: Codable, Sendable, Equatable {
    /// Perturbed copies per input (OpenBackdoor: 5).
    public var repeats: Int
    /// Share of an input's words replaced in each copy (OpenBackdoor: 0.5).
    public var swapRatio: Double
    /// False rejection rate allowed on the clean dev rows (OpenBackdoor: 0.01).
    public var frr: Double
    /// Clean dev rows the tf-idf and the threshold come from.
    public var devRows: Int

    public init(repeats: Int = 5, swapRatio: Double = 0.5, frr: Double = 0.01, devRows: Int = 200) {
      self.repeats = repeats; self.swapRatio = swapRatio; self.frr = frr; self.devRows = devRows
    }

    public func validate() throws(BaselineError) {
      guard repeats >= 1 else { throw .invalidSetting(key: "strip.repeats", value: "\(repeats)", expected: ">= 1") }
      guard swapRatio > 0 && swapRatio <= 1 else { throw .invalidSetting(key: "strip.swap_ratio", value: "\(swapRatio)", expected: "a fraction in (0, 1]") }
      guard frr >= 0 && frr < 1 else { throw .invalidSetting(key: "strip.frr", value: "\(frr)", expected: "a fraction in [0, 1)") }
      guard devRows >= 2 else { throw .invalidSetting(key: "strip.dev_rows", value: "\(devRows)", expected: ">= 2") }
    }
  }

  /// The words of `text` tf-idf counts: runs of two or more letters or digits, lower-cased.
  public static func terms(_ text: String) -> [String] {
    var out: [String] = [], current = ""
    for ch in text.lowercased() {
      if ch.isLetter || ch.isNumber || ch == "_" { current.append(ch) } else {
        if current.count >= 2 { out.append(current) }
        current = ""
      }
    }
    if current.count >= 2 { out.append(current) }
    return out
  }

  /// Per document, its words by tf-idf, highest first (ties by the word): tf the count in the
  /// document, idf = ln((1 + N) / (1 + df)) + 1.
  public static func rankedTerms(_ documents: [String]) -> [[String]] {
    let docs = documents.map(terms)
    var df: [String: Int] = [:]
    for d in docs { for t in Set(d) { df[t, default: 0] += 1 } }
    let n = Double(docs.count)
    return docs.map { d in
      var tf: [String: Int] = [:]
      for t in d { tf[t, default: 0] += 1 }
      let scored = tf.map { (term: $0.key, score: Double($0.value) * (log((1 + n) / (1 + Double(df[$0.key]!))) + 1)) }
      return scored.sorted { $0.score != $1.score ? $0.score > $1.score : $0.term < $1.term }.map(\.term)
    }
  }

  /// One perturbed copy of `text`: m = floor(words × swapRatio) positions drawn at random (with
  /// repetition, as OpenBackdoor draws them) get the top m words of a random donor's ranking.
  public static func perturb(_ text: String, donors: [[String]], swapRatio: Double, using rng: inout SeededRNG) -> String {
    var words = text.split(whereSeparator: \.isWhitespace).map(String.init)
    let m = Int(Double(words.count) * swapRatio)
    let usable = donors.filter { !$0.isEmpty }
    guard m > 0, !usable.isEmpty else { return words.joined(separator: " ") }
    let donor = usable[Int(rng.next() % UInt64(usable.count))]
    for i in 0..<m {
      let position = Int(rng.next() % UInt64(words.count))
      words[position] = donor[i % donor.count]
    }
    return words.joined(separator: " ")
  }

  /// Entropy in bits of the softmax of `logits`.
  public static func entropy(logits: [Float]) -> Double {
    -Vector.softmax(logits).reduce(0.0) { acc, p in p > 0 ? acc + p * log2(p) : acc }
  }

  /// The entropy under which an input is flagged: the clean dev entropies sorted ascending, the
  /// one at index floor(count × frr) (OpenBackdoor's rule; frr 0.01 of 200 rows: the third lowest).
  public static func threshold(cleanEntropies: [Double], frr: Double) -> Double {
    let sorted = cleanEntropies.sorted()
    guard !sorted.isEmpty else { return -.infinity }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * frr))]
  }

  /// Whether each input is flagged: its entropy below the threshold.
  public static func flags(_ entropies: [Double], threshold: Double) -> [Bool] { entropies.map { $0 < threshold } }
}
