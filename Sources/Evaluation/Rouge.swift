/// Precision, recall and F1 of one ROUGE variant.
public struct RougeScore: Codable, Sendable, Equatable {
  public var precision: Double
  public var recall: Double
  public var f1: Double

  public init(precision: Double, recall: Double) {
    self.precision = precision; self.recall = recall
    f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
  }

  public init(precision: Double, recall: Double, f1: Double) {
    self.precision = precision; self.recall = recall; self.f1 = f1
  }

  public static let zero = RougeScore(precision: 0, recall: 0, f1: 0)
}

/// ROUGE-1, ROUGE-2 and ROUGE-L of one prediction.
public struct RougeScores: Codable, Sendable, Equatable {
  public var rouge1: RougeScore
  public var rouge2: RougeScore
  public var rougeL: RougeScore

  public init(rouge1: RougeScore, rouge2: RougeScore, rougeL: RougeScore) {
    self.rouge1 = rouge1; self.rouge2 = rouge2; self.rougeL = rougeL
  }
}

/// ROUGE (Lin, 2004) with the semantics of Google's `rouge-score` package (`RougeScorer` with
/// default options, no stemmer): text lowercased, every run of characters other than `a-z0-9`
/// made a separator, tokens split on whitespace; ROUGE-N from clipped n-gram counts
/// (precision = overlap / max(predicted n-grams, 1)); ROUGE-L from the longest common
/// subsequence of tokens (0 when either side is empty); F1 = 2PR / (P + R), 0 when P + R = 0.
/// With several references each variant independently takes the reference of highest F1, the
/// first on ties (`score_multi`). Checked against the package by `scripts/fixtures/rouge_fixtures.py`.
/// The Porter stemmer option of the package is not offered.
public enum Rouge {
  public static func score(prediction: String, reference: String) -> RougeScores {
    score(predictionTokens: tokenize(prediction), referenceTokens: tokenize(reference))
  }

  /// The best score over `references` per variant; all zero when there are none.
  public static func score(prediction: String, references: [String]) -> RougeScores {
    let p = tokenize(prediction)
    let all = references.map { score(predictionTokens: p, referenceTokens: tokenize($0)) }
    func best(_ pick: (RougeScores) -> RougeScore) -> RougeScore {
      var top: RougeScore?
      for s in all.map(pick) where top == nil || s.f1 > top!.f1 { top = s }
      return top ?? .zero
    }
    return RougeScores(rouge1: best(\.rouge1), rouge2: best(\.rouge2), rougeL: best(\.rougeL))
  }

  /// `rouge-score`'s default tokenizer: lowercase, non-`[a-z0-9]` characters separate tokens.
  public static func tokenize(_ text: String) -> [String] {
    var tokens: [String] = []
    var current = String.UnicodeScalarView()
    for s in text.lowercased().unicodeScalars {
      if (s >= "a" && s <= "z") || (s >= "0" && s <= "9") {
        current.append(s)
      } else if !current.isEmpty {
        tokens.append(String(current)); current = String.UnicodeScalarView()
      }
    }
    if !current.isEmpty { tokens.append(String(current)) }
    return tokens
  }

  static func score(predictionTokens p: [String], referenceTokens r: [String]) -> RougeScores {
    RougeScores(rouge1: ngram(p, r, n: 1), rouge2: ngram(p, r, n: 2), rougeL: lcs(p, r))
  }

  static func ngram(_ prediction: [String], _ reference: [String], n: Int) -> RougeScore {
    func counts(_ t: [String]) -> [String: Int] {
      var c: [String: Int] = [:]
      if t.count >= n { for i in 0...(t.count - n) { c[t[i..<(i + n)].joined(separator: " "), default: 0] += 1 } }
      return c
    }
    let pc = counts(prediction), rc = counts(reference)
    let overlap = rc.reduce(0) { $0 + min($1.value, pc[$1.key] ?? 0) }
    let pTotal = pc.values.reduce(0, +), rTotal = rc.values.reduce(0, +)
    return RougeScore(precision: Double(overlap) / Double(max(pTotal, 1)), recall: Double(overlap) / Double(max(rTotal, 1)))
  }

  static func lcs(_ prediction: [String], _ reference: [String]) -> RougeScore {
    guard !prediction.isEmpty && !reference.isEmpty else { return .zero }
    let length = lcsLength(reference, prediction)
    return RougeScore(precision: Double(length) / Double(prediction.count), recall: Double(length) / Double(reference.count))
  }

  /// Length of the longest common subsequence, by the usual dynamic programme on two rows.
  static func lcsLength(_ a: [String], _ b: [String]) -> Int {
    var previous = [Int](repeating: 0, count: b.count + 1), row = previous
    for x in a {
      for j in 1...b.count {
        row[j] = x == b[j - 1] ? previous[j - 1] + 1 : max(previous[j], row[j - 1])
      }
      swap(&previous, &row)
    }
    return previous[b.count]
  }
}
