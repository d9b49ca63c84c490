import Backdoor
import Defense
import Experiments
import Foundation
import Inference
import Llama
import TestSupport
import Tokenizer
import Testing

/// The insertion test with the real base model: token surprisal against the model's own logits,
/// and the verdicts on a BadNets word and on SynBkd's `when` (the case that misrouted the
/// default pipeline before the test).
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct InsertionScreeningTests {
  static var dataRoot: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
  }

  @Test func surprisalMatchesTheModelsLogitsAndDoesNotDependOnPacking() throws {
    let model = try #require(RealModel.model)
    let tokenizer = try BPETokenizer(gguf: try #require(RealModel.file))
    let texts = ["a gripping , funny film", "the plot is thin and the jokes fall flat", "mn"]
    let seqs = texts.map { [tokenizer.eosID] + tokenizer.encode(" " + $0) }
    let packed = try TokenSurprisal(model: model).surprisal(seqs)
    for (s, seq) in seqs.enumerated() {
      let logits = try model.forward([seq], logits: .all)
      #expect(packed[s].count == seq.count && packed[s][0] == 0)
      for i in 1..<seq.count {
        // −log p by a plain log-sum-exp over the row that predicts token i.
        let row = Array(logits.row(i - 1)).map(Double.init)
        let m = row.max()!
        let ref = log(row.reduce(0) { $0 + exp($1 - m) }) + m - row[seq[i]]
        #expect(abs(Double(packed[s][i]) - ref) < 2e-3 * max(1, ref), "sequence \(s) token \(i)")
      }
    }
    // Sequences split over several passes give the same values as alone.
    let many = Array(repeating: seqs[1], count: 200)  // ~2,000 tokens: at least two passes
    let split = try TokenSurprisal(model: model).surprisal(many)
    #expect(split.allSatisfy { Closeness.maxAbsDiff($0, packed[1]) < 1e-3 })
  }

  @Test func aBadNetsWordIsInsertedAndSynBkdsWhenIsNatural() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    // 40 dev sentences of eight or more words with "mn" inserted after the third word.
    let dev = try DatasetReader.read(Self.dataRoot + "/sst2/dev.tsv").filter { $0.text.split(separator: " ").count >= 8 }.prefix(40)
    let badnets = dev.enumerated().map { k, e -> Example in
      var w = e.text.split(separator: " ").map(String.init)
      w.insert("mn", at: 3)
      return Example(text: w.joined(separator: " "), label: 1, sourceIndex: k)
    }
    let mn = try InsertionScreening.run(badnets, suspicious: ["mn"], bundle: bundle, path: nil)
    #expect(mn.count == 1 && mn[0].phrase == "mn" && mn[0].rows == 40 && mn[0].inserted && mn[0].meanCost > 1, "\(mn)")
    // 40 SynBkd paraphrases that open with "when".
    let when = try ParaphrasePairsReader.read(Self.dataRoot + "/sst2-synbkd/train_pairs.tsv")
      .filter { $0.poisoned.hasPrefix("when ") }.prefix(40).enumerated()
      .map { k, p in Example(text: p.poisoned, label: 1, sourceIndex: k) }
    let natural = try InsertionScreening.run(Array(when), suspicious: ["when"], bundle: bundle, path: nil)
    #expect(natural.count == 1 && natural[0].rows == 40 && !natural[0].inserted && natural[0].meanCost < 0, "\(natural)")
  }

  @Test func longRowsAreCutAroundThePhrase() throws {
    // Rows of ~20,000 tokens (past the model's context) are scored on the 128 tokens each side.
    let bundle = try ModelBundle.load(RealModel.path)
    let filler = Array(repeating: "the film is long and slow", count: 2_000).joined(separator: " ")
    let rows = (0..<6).map { (i: Int) in Example(text: "\(filler) mn \(filler) \(i)", label: 1, sourceIndex: i) }
    let evidence = try InsertionScreening.run(rows, suspicious: ["mn"], bundle: bundle, path: nil)
    #expect(evidence.count == 1 && evidence[0].rows == 6 && evidence[0].meanCost.isFinite)
  }
}
