import Defense
import Evaluation
import Inference
import Llama

/// ONION's suspicion scores (`Onion`) with the base model as the language model: each distinct
/// input of more than one word is scored whole and with each word left out, as BOS + the text's
/// tokens (perplexity over every token after BOS), ~1024 tokens a pass (`TokenSurprisal`).
public enum OnionScoring {
  /// The most tokens of a text scored (longer texts are cut; AG News rows stay under it).
  public static let maxTokens = 256

  public static func scores(_ texts: [String], bundle: ModelBundle,
                            progress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> OnionScores {
    let tokenizer = bundle.tokenizer
    let start = tokenizer.bosID ?? tokenizer.eosID
    let surprisal = TokenSurprisal(model: bundle.model)
    var seen = Set<String>(), distinct: [String] = []
    for t in texts where Onion.words(t).count > 1 && seen.insert(t).inserted { distinct.append(t) }
    var out: [String: [Double]] = [:]
    // Texts go in chunks (the engine packs their variants into full passes), a progress report each.
    let chunk = 16
    for first in stride(from: 0, to: distinct.count, by: chunk) {
      let group = Array(distinct[first..<min(first + chunk, distinct.count)])
      var sequences: [[Int]] = [], counts: [Int] = []
      for text in group {
        let variants = Onion.variants(Onion.words(text))
        sequences += variants.map { [start] + tokenizer.encode($0, parseSpecial: false).prefix(Self.maxTokens) }
        counts.append(variants.count)
      }
      let perplexities = try surprisal.surprisal(sequences).map { Onion.perplexity($0.dropFirst()) }
      var at = 0
      for (text, n) in zip(group, counts) {
        out[text] = Onion.suspicion(perplexities: Array(perplexities[at..<(at + n)]))
        at += n
      }
      progress(first + group.count, distinct.count)
    }
    return OnionScores(scores: out)
  }
}
