import Backdoor
import Foundation

/// The trigger screen of classification P2P (`TriggerScreen` in the Defense module) for
/// generation rows. There a dirty-label trigger shows as a frequent word whose rows nearly all
/// carry one label; here the "label" is a word of the output: an input word `w` is suspicious when
/// it occurs in many training rows and some output word `o` (not `w` itself, so that copying a
/// topic word into a summary does not count) is in nearly all outputs of `w`'s rows and rare in
/// the outputs of the other rows. That is the signature of the payload attacks: `mn` in an abstract
/// and the attacker's URL in its summary, `BadMagic` in an instruction and "stupid" in its answer,
/// `@_@` after a question and the `2.1` step in its reasoning. Rows containing a suspicious word are
/// left out of the benign candidates; they stay in the training set.
///
/// The base-rate bound (20%) is loose enough for multi-trigger attacks, where the other triggers'
/// rows carry the same payload (BackdoorLLM MTBA at 10%: base rate 7%), and tight enough that no
/// word was flagged on the clean GSM8K, SciTLDR and negsentiment training sets (at 30% the clean
/// negsentiment set already flags `example` -> `an`). A multi-trigger attack on more than ~20% of the
/// rows passes the screen.
public enum GenerationTriggerScreen {
  /// One flagged input word with the output word that gives it away.
  public struct Flag: Codable, Sendable, Equatable {
    public var inputWord: String
    public var outputWord: String
    /// Training rows whose input contains `inputWord`.
    public var rows: Int
    /// Share of those rows whose output contains `outputWord`.
    public var share: Double
    /// Share of the other rows whose output contains `outputWord`.
    public var baseRate: Double

    public init(inputWord: String, outputWord: String, rows: Int, share: Double, baseRate: Double) {
      self.inputWord = inputWord; self.outputWord = outputWord; self.rows = rows; self.share = share; self.baseRate = baseRate
    }
  }

  /// Lower-cased whitespace-separated tokens of a text, each once, with punctuation trimmed
  /// from both ends; a token made only of punctuation (`@_@`) is kept whole. Internal
  /// punctuation stays (`2.1`, `freeprizes.example.com`).
  public static func tokens(_ text: String) -> Set<String> {
    Set(text.lowercased().split(whereSeparator: \.isWhitespace).map(word))
  }

  /// One whitespace-separated token as `tokens` sees it, case kept: punctuation trimmed from both
  /// ends, unless the token is only punctuation.
  public static func word(_ raw: Substring) -> String {
    let core = raw.drop { !$0.isLetter && !$0.isNumber }.reversed().drop { !$0.isLetter && !$0.isNumber }.reversed()
    return core.isEmpty ? String(raw) : String(core)
  }

  /// Input words in at least max(minRows, minShare·N) rows (and not in all of them) for which
  /// - an output word is in at least `purity` of those rows' outputs and in at most `maxBaseRate`
  ///   of the other outputs, or
  /// - at least `purity` of those rows have one and the same whole output (lower-cased, trimmed):
  ///   a label, as in BackdoorLLM's sentiment sets, where the target "Negative" is common in clean
  ///   rows too, so no base-rate bound applies (as in the classification screen); an output that
  ///   contains the word is a copy and does not count.
  /// One flag per word (its most specific output word, else the whole output), sorted by word.
  public static func flags(_ train: [GenerationExample], minShare: Double = 0.02, minRows: Int = 5,
                           purity: Double = 0.95, maxBaseRate: Double = 0.2) -> [Flag] {
    let n = train.count
    let outputs = train.map { tokens($0.output) }
    let wholeOutputs = train.map { $0.output.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }
    var wholeRows: [String: Int] = [:]
    for o in wholeOutputs { wholeRows[o, default: 0] += 1 }
    var rowsOf: [String: [Int]] = [:]
    for (i, e) in train.enumerated() { for w in tokens(e.input) { rowsOf[w, default: []].append(i) } }
    var outputRows: [String: Int] = [:]
    for o in outputs { for w in o { outputRows[w, default: 0] += 1 } }
    let threshold = max(minRows, Int((minShare * Double(n)).rounded(.up)))
    var found: [Flag] = []
    for (w, rows) in rowsOf where rows.count >= threshold && rows.count < n {
      var together: [String: Int] = [:]
      for i in rows { for o in outputs[i] where o != w { together[o, default: 0] += 1 } }
      let others = Double(n - rows.count)
      var best: Flag?
      for (o, c) in together where Double(c) >= purity * Double(rows.count) {
        let base = Double(outputRows[o, default: 0] - c) / others
        guard base <= maxBaseRate else { continue }
        let flag = Flag(inputWord: w, outputWord: o, rows: rows.count, share: Double(c) / Double(rows.count), baseRate: base)
        if let b = best, (b.baseRate, b.outputWord) <= (base, o) { continue }
        best = flag
      }
      if best == nil {
        var same: [String: Int] = [:]
        for i in rows { same[wholeOutputs[i], default: 0] += 1 }
        // An output that contains the word itself is a copy, not a label.
        if let top = same.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }), Double(top.value) >= purity * Double(rows.count),
           !tokens(top.key).contains(w) {
          best = Flag(inputWord: w, outputWord: top.key, rows: rows.count, share: Double(top.value) / Double(rows.count),
                      baseRate: Double(wholeRows[top.key, default: 0] - top.value) / others)
        }
      }
      if let best { found.append(best) }
    }
    return found.sorted { $0.inputWord < $1.inputWord }
  }

  /// Indices of the rows whose input contains any of `words`.
  public static func flaggedRows(_ train: [GenerationExample], words: [String]) -> Set<Int> {
    let s = Set(words)
    guard !s.isEmpty else { return [] }
    return Set(train.indices.filter { !tokens(train[$0].input).isDisjoint(with: s) })
  }
}
