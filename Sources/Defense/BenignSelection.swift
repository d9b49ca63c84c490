import Backdoor

/// How the ρ·N rows that get the benign trigger are chosen.
/// - random: uniformly at random, seeded (the paper's description).
/// - agreement: a deployable filter added here: per label, the rows whose label the *base*
///   model agrees with most under a zero-shot prompt. Dirty-label poison (a negative sentence
///   relabelled positive) contradicts its own text and ranks last, so few triggered rows end up
///   teaching the trigger in the safe label space. Stratified: each label keeps its share.
///   Clean-label attacks are not filtered by this.
/// - stratified: our extension, the default's statistical path: per label, ρ of the label's
///   candidate rows (those no screen kept out), so the safe label space keeps the labels' shares
///   of the rows the screens trust; a label the relative spectral screen flagged takes its
///   candidates farthest from the trigger's end first (`StratifiedSelection`).
public enum BenignSelection: String, Codable, Sendable, CaseIterable { case random, agreement, stratified }

/// Label agreement of training rows under a zero-shot prompt of the base model.
public enum LabelAgreement {
  /// The margin of each row's own label: s[y] − max_{j≠y} s[j] over its label-word logits
  /// (equal to the log-probability margin, the softmax normaliser cancels).
  /// scores: rows × labels; labels: one per row.
  public static func margins(scores: [[Float]], labels: [Int]) throws(DefenseError) -> [Float] {
    guard scores.count == labels.count else {
      throw .invalidConfig(key: "agreement scores", value: "\(scores.count) rows", expected: "\(labels.count), one per training row")
    }
    return try zip(scores, labels).enumerated().map { (i, pair) throws(DefenseError) -> Float in
      let (s, y) = pair
      guard y >= 0 && y < s.count && s.count >= 2 else { throw .badLabel(row: i, label: y, labels: s.count) }
      var other = -Float.infinity
      for (j, v) in s.enumerated() where j != y { other = max(other, v) }
      return s[y] - other
    }
  }

  /// Indices (ascending) of the rows chosen for the benign set: for each label ℓ with n_ℓ rows,
  /// the round(ρ·n_ℓ) rows of largest margin (ties: lower index first).
  public static func select(labels: [Int], margins: [Float], ratio: Double) throws(DefenseError) -> [Int] {
    guard margins.count == labels.count else {
      throw .invalidConfig(key: "agreement scores", value: "\(margins.count) rows", expected: "\(labels.count), one per training row")
    }
    var chosen: [Int] = []
    for label in Set(labels).sorted() {
      let rows = labels.indices.filter { labels[$0] == label }
        .sorted { margins[$0] != margins[$1] ? margins[$0] > margins[$1] : $0 < $1 }
      chosen += rows.prefix(Int((ratio * Double(rows.count)).rounded()))
    }
    return chosen.sorted()
  }

  /// The default zero-shot instruction for label names, with the `{sentence}` placeholder.
  public static func instruction(labelNames: [String]) -> String {
    let names = labelNames.count == 2 ? labelNames.joined(separator: " or ")
      : labelNames.dropLast().joined(separator: ", ") + " or " + labelNames.last!
    return "Which label fits this text: \(names)? Answer with one word.\nText: \(PromptTemplate.placeholder)"
  }
}
