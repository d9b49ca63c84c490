import Backdoor
import Defense
import FileIO
import Foundation
import TensorCore

/// P2P-only numbers beside the deployed ones.
public struct P2PDiagnostics: Codable, Sendable, Equatable {
  /// Argmax over all 2n label words under the wrapper's prompt: triggered rows predicted as the
  /// safe target h(t) only (the official code's ASR) ...
  public var asrExtendedTargetOnly: Proportion
  /// ... and as the original or the safe target.
  public var asrOriginalOrExtended: Proportion
  /// Ablation: the same model without the wrapper (original prompt, original label words).
  public var withoutWrapper: ClassificationMetrics
  /// The official code's unrestricted (whole-vocabulary) argmax through the wrapper, if asked.
  public var unrestricted: ClassificationMetrics?
  /// Clean rows whose unrestricted prediction was no label word at all.
  public var unrestrictedInvalid: Int?
}

/// One evaluation of a classifier on a poisoned dataset directory.
public struct ClassificationResult: Codable, Sendable, Equatable {
  public var classifier: ClassifierSpec.Kind
  /// The poisoning the test sets came from.
  public var poisoning: PoisonManifest
  /// CA on the clean test set and ASR on the triggered non-target rows, as deployed (through the
  /// wrapper for a P2P classifier), with the confusion table.
  public var metrics: ClassificationMetrics
  public var p2p: P2PDiagnostics?
  /// The defense configuration, for P2P classifiers.
  public var p2pConfig: P2PConfig?
  public var seconds: Double
  public var sentencesPerSecond: Double
  /// Baseline-defense cells: what the defense did (threshold, FRR and FAR of a detector).
  public var baseline: BaselineRecord?

  public init(classifier: ClassifierSpec.Kind, poisoning: PoisonManifest, metrics: ClassificationMetrics, p2p: P2PDiagnostics?,
              p2pConfig: P2PConfig?, seconds: Double, sentencesPerSecond: Double) {
    self.classifier = classifier; self.poisoning = poisoning; self.metrics = metrics; self.p2p = p2p; self.p2pConfig = p2pConfig
    self.seconds = seconds; self.sentencesPerSecond = sentencesPerSecond
  }
}

/// Evaluates a classifier (a merged model behind a `LabelScorer`) as described by a `ClassifierSpec`.
public enum ClassificationEvaluation {
  /// The deployed predictions for `texts`: the plain prompt, or the P2P wrapper (safe label space;
  /// the whole-vocabulary argmax when the spec asks for it).
  public static func predictDeployed(scorer: any LabelScorer, spec: ClassifierSpec, texts: [String],
                                     progress: (Int) -> Void = { _ in }) throws -> [Int] {
    switch spec.kind {
    case .plain:
      return try VerbalizerClassifier(scorer: scorer, template: spec.template!).predict(texts, progress: progress)
    case .p2p:
      let config = spec.p2p!
      let wrapper = try DefendedClassifier(scorer: scorer, config: config)
      if config.unrestricted { return try DefendedClassifier.Unrestricted(wrapper).predict(texts, progress: progress) }
      return try wrapper.labelWordScores(texts, progress: progress).map(DefendedClassifier.safePrediction(n: config.labels, bias: spec.safeBias))
    }
  }

  public static func run(scorer: any LabelScorer, spec: ClassifierSpec, data: PoisonedDataset,
                         progress: @escaping (String, Int, Int) -> Void = { _, _, _ in }) throws -> ClassificationResult {
    try spec.validate()
    // A test label the classifier has no word for would count in CA but in no confusion row.
    let labels = LabelSet(count: spec.labels)
    do {
      try labels.validate(data.testClean, path: "test-clean.jsonl")
      try labels.validate(data.testPoison, path: "test-poison.jsonl")
      try labels.validate(target: data.manifest.target, key: "target of the poisoning (manifest.json)")
    } catch { throw ExperimentError.invalid(key: "test labels", expected: "labels of the classifier (\(labels.range)): \(error)") }
    let start = Date()
    let target = data.manifest.target
    let clean = data.testClean.map(\.text), poison = data.testPoison.map(\.text)
    let gold = data.testClean.map(\.label)
    var scored = 0
    func bump(_ what: String, _ total: Int) -> (Int) -> Void { { done in progress(what, done, total) } }
    let result: ClassificationResult
    switch spec.kind {
    case .plain:
      let c = try VerbalizerClassifier(scorer: scorer, template: spec.template!)
      let cp = try c.predict(clean, progress: bump("clean", clean.count))
      let pp = try c.predict(poison, progress: bump("triggered", poison.count))
      scored = clean.count + poison.count
      result = ClassificationResult(classifier: .plain, poisoning: data.manifest,
                                    metrics: ClassificationMetrics(gold: gold, predicted: cp, labels: spec.labels,
                                                                   poisonedPredictions: pp, target: target),
                                    p2p: nil, p2pConfig: nil, seconds: 0, sentencesPerSecond: 0)
    case .p2p:
      let config = spec.p2p!
      let n = config.labels
      let wrapper = try DefendedClassifier(scorer: scorer, config: config)
      // One restricted pass over all 2n label words gives the deployed prediction (safe words
      // only) and the 2n-way diagnostics.
      let cs = try wrapper.labelWordScores(clean, progress: bump("clean (wrapper)", clean.count))
      let ps = try wrapper.labelWordScores(poison, progress: bump("triggered (wrapper)", poison.count))
      let safe = DefendedClassifier.safePrediction(n: n, bias: spec.safeBias)
      let deployed = ClassificationMetrics(gold: gold, predicted: cs.map(safe), labels: n, poisonedPredictions: ps.map(safe), target: target)
      let all2n = ps.map { Vector.argmax($0) }
      let extOnly = Proportion(successes: all2n.filter { $0 == config.safeLabel(target) }.count, total: all2n.count)
      let either = Proportion(successes: all2n.filter { $0 == target || $0 == config.safeLabel(target) }.count, total: all2n.count)
      let plain = try VerbalizerClassifier(scorer: scorer, template: config.originalPrompt)
      let nc = try plain.predict(clean, progress: bump("clean (no wrapper)", clean.count))
      let np = try plain.predict(poison, progress: bump("triggered (no wrapper)", poison.count))
      var diag = P2PDiagnostics(asrExtendedTargetOnly: extOnly, asrOriginalOrExtended: either,
                                withoutWrapper: ClassificationMetrics(gold: gold, predicted: nc, labels: n, poisonedPredictions: np, target: target))
      scored = 2 * (clean.count + poison.count)
      if config.unrestricted {
        let u = DefendedClassifier.Unrestricted(wrapper)
        let uc = try u.predict(clean, progress: bump("clean (unrestricted)", clean.count))
        let up = try u.predict(poison, progress: bump("triggered (unrestricted)", poison.count))
        diag.unrestricted = ClassificationMetrics(gold: gold, predicted: uc, labels: n, poisonedPredictions: up, target: target)
        diag.unrestrictedInvalid = uc.filter { $0 == DefendedClassifier.invalidPrediction }.count
        scored += clean.count + poison.count
      }
      // Deployed numbers follow the configured inference (restricted unless `unrestricted`).
      result = ClassificationResult(classifier: .p2p, poisoning: data.manifest, metrics: diag.unrestricted ?? deployed, p2p: diag, p2pConfig: config,
                                    seconds: 0, sentencesPerSecond: 0)
    }
    var r = result
    r.seconds = Date().timeIntervalSince(start)
    r.sentencesPerSecond = Double(scored) / max(r.seconds, 1e-9)
    return r
  }
}

extension ClassificationEvaluation {
  /// `spec` (a P2P classifier) with its safe space calibrated on `rows` (clean, labelled; the dev
  /// rows): the wrapper's safe label-word scores of the rows, and the offsets that maximize their
  /// macro-F1 (`SafeSpaceCalibration`), with how the offsets moved the rows' predictions.
  public static func calibrated(_ spec: ClassifierSpec, scorer: any LabelScorer, rows: [Example],
                                progress: @escaping (Int) -> Void = { _ in }) throws -> (spec: ClassifierSpec, shift: CalibrationShift) {
    guard spec.kind == .p2p, let config = spec.p2p, !config.unrestricted else {
      throw ExperimentError.invalid(key: "classifier", expected: "a P2P classifier with restricted scoring (calibration offsets the safe label words)")
    }
    try LabelSet(count: config.labels).validate(rows, path: "calibration rows")
    let n = config.labels
    let scores = try DefendedClassifier(scorer: scorer, config: config).labelWordScores(rows.map(\.text), progress: progress)
    var out = spec
    out.safeBias = try SafeSpaceCalibration.fit(safeScores: scores.map { Array($0[n..<(2 * n)]) }, gold: rows.map(\.label), labels: n)
    // What the wrapper answers for the rows (`DefendedClassifier.safePrediction`) with the old and the new offsets.
    let shift = CalibrationShift(predictedBefore: scores.map(DefendedClassifier.safePrediction(n: n, bias: spec.safeBias)),
                                 after: scores.map(DefendedClassifier.safePrediction(n: n, bias: out.safeBias)), labels: n)
    return (out, shift)
  }
}
