import Backdoor
import Defense
import Evaluation
import FileIO
import Foundation
import Inference
import Llama
import Training

/// RAP (`RAP`) on the undefended model, merged in `bundle`: the RAP word's embedding row is trained
/// in place on clean dev rows (gradients through the whole model, `TrainableModel.inputGradients`,
/// with a zero adapter), used to screen the test rows, and put back afterwards.
///
/// As OpenBackdoor runs it, not as the paper: the word is trained on every clean dev row (the paper
/// uses the protected label's rows only; on more than two labels the other rows always push p(target)
/// down), its one-token position is checked on the first dev row, and the gradient is summed over
/// every position holding that token (also where the input itself contains the word).
public enum RAPDefense {
  public static func evaluate(_ bundle: ModelBundle, spec: ClassifierSpec, data: PoisonedDataset, defense: BaselineDefense,
                              progress: @escaping (String, Int, Int) -> Void = { _, _, _ in }) throws -> ClassificationResult {
    let config = defense.rap ?? RAP.Config()
    guard spec.kind == .plain, let template = spec.template else {
      throw ExperimentError.invalid(key: "classifier", expected: "an undefended (plain) classifier behind a baseline defense")
    }
    let start = Date()
    let target = data.manifest.target, tokenizer = bundle.tokenizer
    let labelIDs = try template.labelTokenIDs { tokenizer.encode($0) }
    let dev = BaselineEvaluation.devRows(data, limit: config.devRows)
    guard dev.rows.count >= 2 else { throw BaselineError.noCleanRows(defense: "rap", reason: "fewer than 2 dev or clean test rows") }
    // The RAP word's token: where a prompt with the word first differs from the prompt without it.
    let plain = tokenizer.encode(template.prompt(for: dev.rows[0].text))
    let withWord = tokenizer.encode(template.prompt(for: RAP.insert(config.trigger, into: dev.rows[0].text)))
    guard withWord.count == plain.count + 1,
          let at = zip(plain, withWord).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset ?? Optional(plain.count) else {
      throw ExperimentError.invalid(key: "rap.trigger '\(config.trigger)'", expected: "a word that adds exactly one token before the input (OpenBackdoor's 'cf')")
    }
    let word = withWord[at], c = bundle.model.config.hiddenSize
    let row = bundle.model.weights.embedding.pointer + word * c
    let original = Array(UnsafeBufferPointer(start: row, count: c))
    defer { row.update(from: original, count: c) }
    let norm = (original.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()

    let scorer = PromptScorer(bundle)
    var scored = 0
    func targetProbabilities(_ prompts: [String]) throws -> [[Double]] {
      scored += prompts.count
      return try scorer.scores(prompts, tokenIDs: labelIDs).map(RAP.probabilities)
    }
    let devClean = try targetProbabilities(dev.rows.map { template.prompt(for: $0.text) }).map { $0[target] }
    let devWord = dev.rows.map { tokenizer.encodeInput(template.prompt(for: RAP.insert(config.trigger, into: $0.text))) }
    // A zero adapter (no dropout) over the merged model: the trainable forward is the model's own.
    let lora = LoRAParameters(model: bundle.model.config, lora: LoRAConfig(rank: 1, alpha: 1, dropout: 0, targets: [.q]))
    lora.values.zero()
    let trainable = TrainableModel(base: bundle.model, lora: lora)
    var embedding = original, steps = 0
    let total = config.epochs * ((devWord.count + config.batchSize - 1) / config.batchSize)
    for _ in 0..<config.epochs {
      for first in stride(from: 0, to: devWord.count, by: config.batchSize) {
        let batch = Array(devWord[first..<min(first + config.batchSize, devWord.count)])
        let clean = Array(devClean[first..<(first + batch.count)])
        let (_, gradients) = try trainable.inputGradients(batch, tokens: labelIDs) { logits in
          let withRAP = logits.map { RAP.probabilities($0)[target] }
          let dp = RAP.loss(pClean: clean, pRap: withRAP, config: config).dpRap
          return zip(logits, dp).map { RAP.logitGradient(logits: $0, target: target, dp: $1) }
        }
        var g = [Float](repeating: 0, count: c)
        for (s, seq) in batch.enumerated() {
          for (p, t) in seq.enumerated() where t == word { for k in 0..<c { g[k] += gradients[s][p][k] } }
        }
        RAP.step(&embedding, gradient: g, learningRate: config.learningRate, norm: norm)
        row.update(from: embedding, count: c)
        steps += 1
        progress("RAP: training the word's embedding", steps, total)
      }
    }
    // Drops of the target's probability; only inputs predicted as the target are screened.
    func drops(_ texts: [String]) throws -> (predicted: [Int], drop: [Double]) {
      let p = try targetProbabilities(texts.map(template.prompt(for:)))
      let q = try targetProbabilities(texts.map { template.prompt(for: RAP.insert(config.trigger, into: $0)) })
      let predicted = p.map { v in v.indices.max { v[$0] < v[$1] }! }
      return (predicted, zip(p, q).map { $0[target] - $1[target] })
    }
    let devDrops = try drops(dev.rows.map(\.text))
    // The drops of the dev rows predicted as the target; all dev rows when none is (said in the record).
    let targetDrops = zip(devDrops.predicted, devDrops.drop).filter { $0.0 == target }.map(\.1)
    let threshold = RAP.percentile(targetDrops.isEmpty ? devDrops.drop : targetDrops, config.frr)
    let clean = try drops(data.testClean.map(\.text)), poison = try drops(data.testPoison.map(\.text))
    func flags(_ d: (predicted: [Int], drop: [Double])) -> [Bool] { zip(d.predicted, d.drop).map { $0 == target && $1 < threshold } }
    let cleanFlags = flags(clean), poisonFlags = flags(poison)
    let rejected = BaselineEvaluation.rejected
    let metrics = ClassificationMetrics(gold: data.testClean.map(\.label), predicted: zip(clean.predicted, cleanFlags).map { $1 ? rejected : $0 },
                                        labels: spec.labels, poisonedPredictions: zip(poison.predicted, poisonFlags).map { $1 ? rejected : $0 },
                                        target: target)
    var r = ClassificationResult(classifier: .plain, poisoning: data.manifest, metrics: metrics, p2p: nil, p2pConfig: nil,
                                 seconds: Date().timeIntervalSince(start), sentencesPerSecond: 0)
    r.sentencesPerSecond = Double(scored) / max(r.seconds, 1e-9)
    let meanDrop = devDrops.drop.reduce(0, +) / Double(max(devDrops.drop.count, 1))
    var record = BaselineRecord(defense: defense, threshold: threshold,
                                thresholdSource: String(format: "drop of p(target) at FRR %.1f%% of the %d of %d %@ rows predicted as the target%@; \"%@\" trained %d steps, mean dev drop %.3f; only inputs predicted as the target are screened (FAR over the triggered rows predicted as the target)",
                                                        100 * config.frr, targetDrops.count, dev.rows.count, dev.source,
                                                        targetDrops.isEmpty ? " (none: all dev rows used)" : "", config.trigger, steps, meanDrop),
                                devRows: dev.rows.count, devSource: dev.source)
    record.falseRejection = Proportion(successes: cleanFlags.filter { $0 }.count, total: cleanFlags.count)
    // FAR over the triggered rows RAP screens (those predicted as the target): a triggered row the
    // model already gives another label is not an input the detector let through.
    let screened = zip(poison.predicted, poisonFlags).filter { $0.0 == target }
    record.falseAcceptance = Proportion(successes: screened.filter { !$0.1 }.count, total: screened.count)
    r.baseline = record
    return r
  }
}
