import Foundation

/// BKI, Backdoor Keyword Identification (Chen, Dai: "Mitigating backdoor attacks in LSTM-based text
/// classification systems by Backdoor Keyword Identification", Neurocomputing 2021), as
/// OpenBackdoor runs it: a model trained on the (possibly poisoned) rows reads each training row
/// whole and with each word left out; a word's effect is the largest change of the model's
/// representation, ||h(x) - h(x without w)||∞. Each row contributes its `topWords` words of
/// largest effect; over the rows, a word's score is log10(its count) × its mean effect, and the
/// word of highest score is the backdoor keyword. Rows whose top words hold it are removed and the
/// model is trained again on the rest. The representation here is the final-norm hidden state at
/// the answer position of the classifier's prompt (the state the label logits are read from).
public enum BKI {
  public struct Config: Codable, Sendable, Equatable {
    /// Words each row contributes (OpenBackdoor: 5).
    public var topWords: Int
    public init(topWords: Int = 5) { self.topWords = topWords }
    public func validate() throws(BaselineError) {
      guard topWords >= 1 else { throw .invalidSetting(key: "bki.top_words", value: "\(topWords)", expected: ">= 1") }
    }
  }

  /// ||h_i - h_0||∞ for each word i: `whole` is h_0, `without[i]` the state with word i left out.
  public static func effects(whole: [Float], without: [[Float]]) -> [Double] {
    without.map { h in zip(h, whole).reduce(0.0) { max($0, Double(abs($1.0 - $1.1))) } }
  }

  /// The `k` words of largest effect, largest first (ties: the earlier word first).
  public static func topWords(_ words: [String], effects: [Double], k: Int) -> [(word: String, effect: Double)] {
    let order = words.indices.sorted { effects[$0] != effects[$1] ? effects[$0] > effects[$1] : $0 < $1 }
    return order.prefix(k).map { (words[$0], effects[$0]) }
  }

  /// A word's record over the rows: how many rows hold it among their top words, the mean effect
  /// there, and the score log10(count) × mean.
  public struct WordScore: Codable, Sendable, Equatable {
    public var word: String
    public var count: Int
    public var meanEffect: Double
    public var score: Double { log10(Double(count)) * meanEffect }
  }

  /// Every word's record, highest score first (ties: the word).
  public static func scores(_ perRow: [[(word: String, effect: Double)]]) -> [WordScore] {
    var table: [String: (count: Int, sum: Double)] = [:]
    for row in perRow { for (w, e) in row { table[w, default: (0, 0)].count += 1; table[w, default: (0, 0)].sum += e } }
    return table.map { WordScore(word: $0.key, count: $0.value.count, meanEffect: $0.value.sum / Double($0.value.count)) }
      .sorted { $0.score != $1.score ? $0.score > $1.score : $0.word < $1.word }
  }

  /// The rows whose top words hold `keyword`.
  public static func flagged(_ perRow: [[(word: String, effect: Double)]], keyword: String) -> [Bool] {
    perRow.map { row in row.contains { $0.word == keyword } }
  }
}
