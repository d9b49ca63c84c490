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
  public static func suspiciousWords(_ train: [Example], minShare: Double = 0.02, minRows: Int = 5,
                                     purity: Double = 0.95) -> [String] {
    var perLabel: [String: [Int: Int]] = [:]
    for e in train { for w in words(e.text) { perLabel[w, default: [:]][e.label, default: 0] += 1 } }
    let threshold = max(minRows, Int((minShare * Double(train.count)).rounded(.up)))
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
}
