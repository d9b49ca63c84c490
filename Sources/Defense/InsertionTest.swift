import Backdoor

/// The insertion test of the default pipeline (our extension): is a word the trigger-word screen
/// flags (`TriggerScreen`) an *inserted* trigger, or natural text that happens to be label-pure?
///
/// An inserted word or sentence (BadNets `mn`, AddSent's "I watch this 3D movie", dirty- or
/// clean-label) interrupts its row: under the base language model the words after it are harder to
/// predict with it than without it. A natural word is context: the words after it are easier to
/// predict with it (`when` opening a SynBkd paraphrase's clause, `hath` in a StyleBkd row,
/// `killed` in an AG News world headline). So for each flagged phrase (the screen's recovered
/// trigger text around the word) and each of its rows, the cost is
///
///     cost = Σ_{suffix tokens} surprisal(with the phrase) − Σ_{suffix tokens} surprisal(without it)
///
/// and the phrase counts as inserted when the mean cost over its rows is positive, or when it is
/// a fixed template of three or more words (`templateWords`). Only the suffix is compared: its
/// tokens are the same in both versions, and the phrase's own tokens, which a rare word makes
/// costly whether inserted or not, are left out. Rows where the phrase ends the text carry no
/// evidence; where it opens the text, the suffix's first token is left out (it opens the text
/// without the phrase, and any text before it would lower its surprisal). ONION (Qi et al., EMNLP 2021) scores words by the same
/// perplexity signal at inference; here it only decides which screen the training set gets.
public enum InsertionTest {
  /// A text split around the first occurrence of a phrase: the space-separated pieces before it,
  /// the phrase as written in the text, and the pieces after it.
  public struct Split: Equatable, Sendable {
    public var prefix: String
    public var span: String
    public var suffix: String
    public init(prefix: String, span: String, suffix: String) { self.prefix = prefix; self.span = span; self.suffix = suffix }
  }

  /// What the test found for one phrase.
  public struct Evidence: Codable, Equatable, Sendable {
    /// The recovered phrase and the flagged words it stands for.
    public var phrase: String
    public var words: [String]
    /// Rows measured (the phrase followed by text), and the mean and median cost in nats.
    public var rows: Int
    public var meanCost: Double
    public var medianCost: Double
    /// Share of the measured rows whose cost is positive.
    public var positiveShare: Double
    /// The verdict: inserted (the screen keeps the words), or natural text (released).
    public var inserted: Bool

    public init(phrase: String, words: [String], costs: [Double], minRows: Int = InsertionTest.minRows) {
      self.phrase = phrase; self.words = words; rows = costs.count
      meanCost = costs.isEmpty ? 0 : costs.reduce(0, +) / Double(costs.count)
      let sorted = costs.sorted()
      medianCost = sorted.isEmpty ? 0 : (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
      positiveShare = costs.isEmpty ? 0 : Double(costs.filter { $0 > 0 }.count) / Double(costs.count)
      // Too few rows to judge: the screen keeps the words, as it did before the test existed. A
      // recovered phrase of `templateWords` or more pieces is a fixed text repeated verbatim,
      // kept whatever its cost (at the start of a row, where such templates go, nothing precedes
      // it to interrupt).
      inserted = costs.count < minRows || meanCost > 0 || InsertionTest.isTemplate(phrase)
    }
  }

  /// A recovered phrase of at least this many space-separated pieces counts as an inserted
  /// template without the cost test: the screen recovers a phrase only where ≥ 90% of the word's
  /// rows agree on every neighbour, and natural text does not repeat three words verbatim around
  /// a label-pure word in 2% of the rows (the benign-trigger attacks open their rows with one).
  public static let templateWords = 3

  /// Whether `phrase` is long enough to count as a template (`templateWords`).
  public static func isTemplate(_ phrase: String) -> Bool { phrase.split(separator: " ").count >= templateWords }

  /// Fewer measured rows than this and the phrase stays flagged.
  public static let minRows = 5
  /// At most this many rows per phrase are measured (the first ones in training order).
  public static let maxRows = 64

  /// Splits `text` (space-separated pieces) around the first occurrence of `phrase`, compared
  /// case-insensitively; a one-word phrase also matches a piece that contains it as a word
  /// (`mn,`), as the screen's own matching does. nil when the phrase does not occur.
  public static func split(_ text: String, phrase: String) -> Split? {
    let pieces = text.split(separator: " ").map(String.init)
    let target = phrase.split(separator: " ").map { $0.lowercased() }
    guard !target.isEmpty, pieces.count >= target.count else { return nil }
    for i in 0...(pieces.count - target.count) {
      let window = pieces[i..<(i + target.count)].map { $0.lowercased() }
      let matches = window == target || (target.count == 1 && TriggerScreen.words(window[0]).contains(target[0]))
      if matches {
        return Split(prefix: pieces[..<i].joined(separator: " "), span: pieces[i..<(i + target.count)].joined(separator: " "),
                     suffix: pieces[(i + target.count)...].joined(separator: " "))
      }
    }
    return nil
  }

  /// The flagged words grouped by the phrase each recovers to (`TriggerScreen.phrases` of the
  /// word alone), in the order of the sorted words; a word without a phrase stands for itself.
  public static func phraseGroups(_ train: [Example], suspicious: [String]) -> [(phrase: String, words: [String])] {
    var groups: [(phrase: String, words: [String])] = []
    for w in suspicious.sorted() {
      let phrase = TriggerScreen.phrases(train, suspicious: [w]).first ?? w
      if let k = groups.firstIndex(where: { $0.phrase.lowercased() == phrase.lowercased() }) { groups[k].words.append(w) }
      else { groups.append((phrase, [w])) }
    }
    return groups
  }

  /// The cost of one row from the suffix surprisals with and without the phrase (same tokens,
  /// same count): their difference of sums.
  public static func cost(suffixWith: ArraySlice<Float>, suffixWithout: ArraySlice<Float>) -> Double {
    precondition(suffixWith.count == suffixWithout.count, "the suffix must have the same tokens in both versions")
    return suffixWith.reduce(0.0) { $0 + Double($1) } - suffixWithout.reduce(0.0) { $0 + Double($1) }
  }
}
