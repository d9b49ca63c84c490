import Backdoor
import Defense
import FileIO
import Llama

/// BKI's reading (`BKI`) with a model that was trained on the rows (its adapter merged): each row
/// whole and with each white-space word left out, as the classifier's prompt; the representation
/// is the final-norm hidden state at the answer position (`ProbeScreening.answerStates`).
public enum BKIScoring {
  public static let resultFile = "bki.json"

  public struct Result: Codable, Sendable, Equatable {
    public struct Top: Codable, Sendable, Equatable { public var word: String; public var effect: Double }
    /// Per training row, its top words with their effects.
    public var topWords: [[Top]]
    /// The ten words of highest score.
    public var ranking: [BKI.WordScore]
    public var keyword: String?
    /// Rows whose top words hold the keyword.
    public var removed: [Bool] {
      guard let keyword else { return topWords.map { _ in false } }
      return BKI.flagged(topWords.map { $0.map { ($0.word, $0.effect) } }, keyword: keyword)
    }
  }

  public static func run(_ texts: [String], template: PromptTemplate, config: BKI.Config, bundle: ModelBundle,
                         progress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> Result {
    let labelIDs = try template.labelTokenIDs { bundle.tokenizer.encode($0) }
    var perRow: [[(word: String, effect: Double)]] = []
    let chunk = 16
    for first in stride(from: 0, to: texts.count, by: chunk) {
      let group = Array(texts[first..<min(first + chunk, texts.count)])
      var prompts: [String] = [], counts: [Int] = []
      for text in group {
        let words = Onion.words(text)
        let variants = [words.joined(separator: " ")] + words.indices.map { i in (words[..<i] + words[(i + 1)...]).joined(separator: " ") }
        prompts += variants.map(template.prompt(for:))
        counts.append(variants.count)
      }
      let states = try ProbeScreening.answerStates(prompts, bundle: bundle, labelIDs: labelIDs, progress: { _ in }).features
      var at = 0
      for (text, n) in zip(group, counts) {
        let effects = BKI.effects(whole: states[at], without: Array(states[(at + 1)..<(at + n)]))
        perRow.append(BKI.topWords(Onion.words(text), effects: effects, k: config.topWords))
        at += n
      }
      progress(first + group.count, texts.count)
    }
    let ranking = BKI.scores(perRow)
    return Result(topWords: perRow.map { $0.map { Result.Top(word: $0.word, effect: $0.effect) } }, ranking: Array(ranking.prefix(10)),
                  keyword: ranking.first?.word)
  }
}
