import Backdoor

/// A screen for inserted triggers (BadNets words, AddSent sentences) before benign rows are
/// chosen: a word that occurs in many training rows nearly all of one label is the signature of
/// a dirty-label insertion trigger, since natural words that frequent are spread over labels.
/// Rows containing such a word are left out of the benign candidates (they stay in the training
/// set). Paraphrase triggers (SynBkd, StyleBkd) have no such word and pass the screen.
public enum TriggerScreen {
  /// Lower-cased alphanumeric words of a text, each once.
  public static func words(_ text: String) -> Set<String> {
    Set(text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init))
  }

  /// Words in at least max(minRows, minShare·N) rows of which at least `purity` carry one label,
  /// sorted.
  public static func suspiciousWords(_ train: [Example], minShare: Double = ScreenThresholds.minShare, minRows: Int = ScreenThresholds.minRows,
                                     purity: Double = ScreenThresholds.purity) -> [String] {
    var perLabel: [String: [Int: Int]] = [:]
    for e in train { for w in words(e.text) { perLabel[w, default: [:]][e.label, default: 0] += 1 } }
    let threshold = ScreenThresholds.rowThreshold(rows: train.count, minShare: minShare, minRows: minRows)
    return perLabel.compactMap { (w, counts) -> String? in
      let total = counts.values.reduce(0, +)
      guard total >= threshold, let top = counts.values.max(), Double(top) >= purity * Double(total) else { return nil }
      return w
    }.sorted()
  }

  /// Indices of the rows containing any of `suspicious`.
  public static func flaggedRows(_ train: [Example], suspicious: [String]) -> Set<Int> {
    let s = Set(suspicious)
    guard !s.isEmpty else { return [] }
    return Set(train.indices.filter { !words(train[$0].text).isDisjoint(with: s) })
  }

  /// The trigger text around each suspicious word, recovered from the flagged rows: starting from
  /// the word, the phrase grows left and right while at least `agreement` of its occurrences have
  /// the same neighbouring token (an AddSent sentence comes back whole, a BadNets word alone).
  /// Tokens are the space-separated pieces of the texts, compared case-insensitively; the phrase
  /// keeps the spelling of its first occurrence. One phrase per distinct result, in order of the
  /// sorted words.
  public static func phrases(_ train: [Example], suspicious: [String], agreement: Double = 0.9) -> [String] {
    var out: [String] = []
    var seen: Set<String> = []
    for w in suspicious {
      // (tokens, start, end) of the first occurrence of w in each row; the phrase is tokens[start..<end].
      var spans: [(tokens: [Substring], start: Int, end: Int)] = []
      for e in train {
        let tokens = e.text.split(separator: " ")
        if let i = tokens.firstIndex(where: { words(String($0)).contains(w) }) { spans.append((tokens, i, i + 1)) }
      }
      guard !spans.isEmpty else { continue }
      // Grows every span by one token on one side when enough of them agree on it.
      func grow(left: Bool) -> Bool {
        var counts: [String: Int] = [:]
        for s in spans {
          let j = left ? s.start - 1 : s.end
          if j >= 0 && j < s.tokens.count { counts[s.tokens[j].lowercased(), default: 0] += 1 }
        }
        guard let (token, n) = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }),
              Double(n) >= agreement * Double(spans.count) else { return false }
        spans = spans.compactMap { s in
          let j = left ? s.start - 1 : s.end
          guard j >= 0 && j < s.tokens.count && s.tokens[j].lowercased() == token else { return nil }
          return left ? (s.tokens, j, s.end) : (s.tokens, s.start, j + 1)
        }
        return true
      }
      while grow(left: true) {}
      while grow(left: false) {}
      let first = spans[0]
      let phrase = first.tokens[first.start..<first.end].joined(separator: " ")
      if seen.insert(phrase.lowercased()).inserted { out.append(phrase) }
    }
    return out
  }
}
