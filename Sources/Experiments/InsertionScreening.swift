import Backdoor
import Defense
import FileIO
import Inference
import Llama

/// Runs the insertion test (`InsertionTest`) of the words the trigger-word screen flags, with the
/// base model: for each recovered phrase, up to `InsertionTest.maxRows` of its rows with text
/// after it are scored with and without the phrase, and the suffix's surprisal is compared. The
/// evidence is written to `path` (`insertion.json`) for the record.
public enum InsertionScreening {
  public static let resultFile = "insertion.json"
  /// The most tokens of a row kept before and after the phrase: the disruption is local, and a
  /// long row then costs no more than a short one (and never exceeds the model's context).
  public static let contextTokens = 128
  /// A recovered phrase longer than this (rows sharing whole stretches of text) is measured as its
  /// first flagged word.
  public static let maxPhraseWords = 32

  public static func run(_ train: [Example], suspicious: [String], bundle: ModelBundle, path: String?) throws -> [InsertionTest.Evidence] {
    let tokenizer = bundle.tokenizer
    // Every piece gets a leading space, so the suffix encodes to the same tokens in both versions;
    // the sequence starts with BOS (or EOS) as its context-free first token.
    let start = tokenizer.bosID ?? tokenizer.eosID
    func encode(_ piece: String) -> [Int] { piece.isEmpty ? [] : tokenizer.encode(" " + piece, parseSpecial: false) }
    var evidence: [InsertionTest.Evidence] = []
    let scorer = TokenSurprisal(model: bundle.model)
    // The costs of the rows where `phrase` is followed by text.
    func costs(_ phrase: String) throws -> [Double] {
      var sequences: [[Int]] = [], suffixLengths: [Int] = []
      for e in train {
        guard suffixLengths.count < InsertionTest.maxRows, let split = InsertionTest.split(e.text, phrase: phrase) else { continue }
        let suffix = Array(encode(split.suffix).prefix(Self.contextTokens))
        // Without a prefix, the suffix's first token opens the text without the phrase, where any
        // preceding text would lower its surprisal: it is left out of the comparison.
        let compared = split.prefix.isEmpty ? suffix.count - 1 : suffix.count
        guard compared > 0 else { continue }
        let prefix = [start] + encode(split.prefix).suffix(Self.contextTokens)
        sequences.append(prefix + encode(split.span) + suffix)
        sequences.append(prefix + suffix)
        suffixLengths.append(compared)
      }
      let surprisal = try scorer.surprisal(sequences)
      return suffixLengths.indices.map { k -> Double in
        let with = surprisal[2 * k], without = surprisal[2 * k + 1], n = suffixLengths[k]  // the last n tokens
        return InsertionTest.cost(suffixWith: with[(with.count - n)...], suffixWithout: without[(without.count - n)...])
      }
    }
    for group in InsertionTest.phraseGroups(train, suspicious: suspicious) {
      // A phrase grown over rows that share long stretches of text is measured as the word.
      var phrase = group.phrase.split(separator: " ").count > Self.maxPhraseWords ? group.words[0] : group.phrase
      var measured = try costs(phrase)
      // A phrase grown from one long piece (a URL, markup) may recur in too few rows to judge:
      // the words are then measured alone, each removal taking the piece that holds the word.
      if measured.count < InsertionTest.minRows && group.words.count == 1 && phrase.lowercased() != group.words[0] {
        let alone = try costs(group.words[0])
        if alone.count > measured.count { phrase = group.words[0]; measured = alone }
      }
      evidence.append(InsertionTest.Evidence(phrase: phrase, words: group.words, costs: measured))
    }
    if let path { try JSONOutput.write(evidence, to: path) }
    return evidence
  }
}
