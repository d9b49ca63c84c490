import Backdoor
import Defense
import FileIO
import Foundation
import TensorCore

/// What an inference-time baseline defense did in one evaluation.
public struct BaselineRecord: Codable, Sendable, Equatable {
  public var defense: BaselineDefense
  /// ONION: the suspicion-score threshold (perplexity points; +inf: nothing removed); STRIP: the
  /// entropy (bits) under which an input is rejected.
  public var threshold: Double?
  /// How the threshold was set (or, without one, what the defense did), in words.
  public var thresholdSource: String
  /// Clean dev rows used (threshold, tf-idf).
  public var devRows: Int
  public var devSource: String
  /// Detectors: clean test rows rejected (false rejection rate) and triggered test rows let
  /// through (false acceptance rate). A rejected clean row counts as wrong in CA and macro-F1, a
  /// rejected triggered row as not attacked.
  public var falseRejection: Proportion?
  public var falseAcceptance: Proportion?
  /// ONION: mean words removed per clean and per triggered input.
  public var removedWordsClean: Double?
  public var removedWordsTriggered: Double?
  /// Training-time filters: the training rows removed, against the poisoned ones.
  public var filter: FilterRecord?

  public init(defense: BaselineDefense, threshold: Double?, thresholdSource: String, devRows: Int, devSource: String) {
    self.defense = defense; self.threshold = threshold; self.thresholdSource = thresholdSource
    self.devRows = devRows; self.devSource = devSource
  }
}

/// What a training-time filter removed, measured against the rows the poisoning marked: precision
/// (removed rows that were poisoned) and recall (poisoned rows removed).
public struct FilterRecord: Codable, Sendable, Equatable {
  /// What the filter found (BKI: the keyword).
  public var found: [String]
  public var trainRows: Int
  public var removedRows: Int
  public var poisonedRows: Int
  public var precision: Proportion
  public var recall: Proportion

  /// The record of removing the rows flagged in `removed` from `rows`.
  public init(found: [String], rows: [Example], removed: [Bool]) {
    self.found = found
    trainRows = rows.count
    let hits = zip(rows, removed).filter { $0.0.poisoned && $0.1 }.count
    removedRows = removed.filter { $0 }.count
    poisonedRows = rows.filter(\.poisoned).count
    precision = Proportion(successes: hits, total: removedRows)
    recall = Proportion(successes: hits, total: poisonedRows)
  }
}

/// The suspicion scores ONION needs for each text it will see (dev, clean and triggered test
/// rows), computed with the base model before the adapter is merged (`OnionScoring`,
/// Experiments) and stored in the cell (`onion-scores.json`).
public struct OnionScores: Codable, Sendable, Equatable {
  /// Per text, one score per white-space word (`Onion.words`); a one-word text has none.
  public var scores: [String: [Double]]
  public init(scores: [String: [Double]]) { self.scores = scores }
  public static let fileName = "onion-scores.json"
}

/// Evaluates a plain (undefended) classifier behind an inference-time baseline defense, on the
/// same test rows and with the same metrics as `ClassificationEvaluation`.
public enum BaselineEvaluation {
  /// Clean rows a baseline chooses its threshold on: the dev split, else the clean test split
  /// (then the threshold has seen test rows, which the record says), the first `limit`.
  public static func devRows(_ data: PoisonedDataset, limit: Int) -> (rows: [Example], source: String) {
    if let dev = data.dev, !dev.isEmpty { return (Array(dev.prefix(limit)), "dev split") }
    return (Array(data.testClean.prefix(limit)), testSplitSource)
  }

  /// The `devSource` of a threshold chosen on the clean test rows (there was no dev split).
  public static let testSplitSource = "clean test split (no dev split)"

  static func plainClassifier(_ scorer: any LabelScorer, _ spec: ClassifierSpec) throws -> VerbalizerClassifier {
    guard spec.kind == .plain, let template = spec.template else {
      throw ExperimentError.invalid(key: "classifier", expected: "an undefended (plain) classifier behind a baseline defense")
    }
    return try VerbalizerClassifier(scorer: scorer, template: template)
  }

  static func result(_ data: PoisonedDataset, spec: ClassifierSpec, clean: [Int], poison: [Int], record: BaselineRecord,
                     start: Date, scored: Int) -> ClassificationResult {
    let metrics = ClassificationMetrics(gold: data.testClean.map(\.label), predicted: clean, labels: spec.labels,
                                        poisonedPredictions: poison, target: data.manifest.target)
    var r = ClassificationResult(classifier: .plain, poisoning: data.manifest, metrics: metrics, p2p: nil, p2pConfig: nil,
                                 seconds: Date().timeIntervalSince(start), sentencesPerSecond: 0)
    r.sentencesPerSecond = Double(scored) / max(r.seconds, 1e-9)
    r.baseline = record
    return r
  }

  /// ONION: each input with its suspicious words removed, then classified. The threshold is the
  /// configured one, else the lowest candidate (`Onion.candidates` of the dev rows' scores) whose
  /// dev accuracy stays within `maxDevAccuracyDrop` of the dev accuracy without removal.
  public static func onion(scorer: any LabelScorer, spec: ClassifierSpec, data: PoisonedDataset, defense: BaselineDefense,
                           scores: OnionScores, progress: @escaping (String, Int, Int) -> Void = { _, _, _ in }) throws -> ClassificationResult {
    let config = defense.onion ?? Onion.Config()
    let start = Date()
    let classifier = try plainClassifier(scorer, spec)
    func scored(_ text: String) throws -> (words: [String], scores: [Double]) {
      let words = Onion.words(text)
      guard words.count > 1 else { return (words, []) }
      guard let s = scores.scores[text], s.count == words.count else {
        throw ExperimentError.invalid(key: "ONION scores (\(OnionScores.fileName))", expected: "\(words.count) word scores for \"\(text.prefix(60))\"")
      }
      return (words, s)
    }
    func apply(_ texts: [(words: [String], scores: [Double])], _ t: Double) -> [String] {
      texts.map { $0.scores.isEmpty ? $0.words.joined(separator: " ") : Onion.filtered($0.words, scores: $0.scores, threshold: t) }
    }
    var count = 0
    let threshold: Double, source: String, dev: (rows: [Example], source: String)
    dev = devRows(data, limit: config.devRows)
    if let t = config.threshold {
      threshold = t; source = "set in the configuration"
    } else {
      guard !dev.rows.isEmpty else { throw BaselineError.noCleanRows(defense: "onion", reason: "no dev or clean test rows to choose the threshold on") }
      let devScored = try dev.rows.map { try scored($0.text) }
      let gold = dev.rows.map(\.label)
      func accuracy(_ texts: [String]) throws -> Double {
        let p = try classifier.predict(texts)
        count += texts.count
        return Double(zip(p, gold).filter { $0 == $1 }.count) / Double(gold.count)
      }
      let reference = try accuracy(dev.rows.map(\.text))
      progress("ONION threshold on \(dev.rows.count) dev rows", 0, 1)
      let chosen = try Onion.choose(Onion.candidates(devScored.map(\.scores)), reference: reference, maxDrop: config.maxDevAccuracyDrop) {
        try accuracy(apply(devScored, $0))
      }
      threshold = chosen.threshold
      source = String(format: "the lowest candidate within %.1f points of the dev accuracy without removal (%.1f%% -> %.1f%% on %d %@ rows)",
                      100 * config.maxDevAccuracyDrop, 100 * reference, 100 * chosen.devAccuracy, dev.rows.count, dev.source)
    }
    let clean = try data.testClean.map { try scored($0.text) }, poison = try data.testPoison.map { try scored($0.text) }
    let cleanTexts = apply(clean, threshold), poisonTexts = apply(poison, threshold)
    let cp = try classifier.predict(cleanTexts) { progress("clean (ONION)", $0, cleanTexts.count) }
    let pp = try classifier.predict(poisonTexts) { progress("triggered (ONION)", $0, poisonTexts.count) }
    count += cleanTexts.count + poisonTexts.count
    // A configured threshold read no dev row.
    let used = config.threshold == nil ? dev : (rows: [], source: "none")
    var record = BaselineRecord(defense: defense, threshold: threshold, thresholdSource: source, devRows: used.rows.count, devSource: used.source)
    func removed(_ before: [(words: [String], scores: [Double])], _ after: [String]) -> Double {
      guard !before.isEmpty else { return 0 }
      return Double(zip(before, after).reduce(0) { $0 + $1.0.words.count - Onion.words($1.1).count }) / Double(before.count)
    }
    record.removedWordsClean = removed(clean, cleanTexts)
    record.removedWordsTriggered = removed(poison, poisonTexts)
    return result(data, spec: spec, clean: cp, poison: pp, record: record, start: start, scored: count)
  }

  /// Rejected inputs' prediction (`ClassificationMetrics.rejected`): wrong on the clean set, not the
  /// target on the triggered set.
  public static let rejected = ClassificationMetrics.rejected

  /// STRIP: each input's mean prediction entropy over `repeats` perturbed copies; inputs under the
  /// dev rows' FRR quantile are rejected, the others classified as they are.
  public static func strip(scorer: any LabelScorer, spec: ClassifierSpec, data: PoisonedDataset, defense: BaselineDefense,
                           progress: @escaping (String, Int, Int) -> Void = { _, _, _ in }) throws -> ClassificationResult {
    let config = defense.strip ?? Strip.Config()
    let start = Date()
    let classifier = try plainClassifier(scorer, spec)
    let dev = devRows(data, limit: config.devRows)
    guard dev.rows.count >= 2 else { throw BaselineError.noCleanRows(defense: "strip", reason: "fewer than 2 dev or clean test rows") }
    let donors = Strip.rankedTerms(dev.rows.map(\.text))
    var rng = SeededRNG(seed: defense.seed ^ 0x5781_9000)
    var count = 0
    func entropies(_ texts: [String], _ what: String) throws -> [Double] {
      var copies: [String] = []
      copies.reserveCapacity(texts.count * config.repeats)
      for t in texts { for _ in 0..<config.repeats { copies.append(Strip.perturb(t, donors: donors, swapRatio: config.swapRatio, using: &rng)) } }
      let logits = try classifier.scores(copies) { progress(what, $0, copies.count) }
      count += copies.count
      return texts.indices.map { i in
        (0..<config.repeats).reduce(0.0) { $0 + Strip.entropy(logits: logits[i * config.repeats + $1]) } / Double(config.repeats)
      }
    }
    let devEntropy = try entropies(dev.rows.map(\.text), "STRIP dev rows")
    let threshold = Strip.threshold(cleanEntropies: devEntropy, frr: config.frr)
    let cleanFlags = Strip.flags(try entropies(data.testClean.map(\.text), "STRIP clean"), threshold: threshold)
    let poisonFlags = Strip.flags(try entropies(data.testPoison.map(\.text), "STRIP triggered"), threshold: threshold)
    let cp = try classifier.predict(data.testClean.map(\.text)) { progress("clean", $0, data.testClean.count) }
    let pp = try classifier.predict(data.testPoison.map(\.text)) { progress("triggered", $0, data.testPoison.count) }
    count += cp.count + pp.count
    var record = BaselineRecord(defense: defense, threshold: threshold,
                                thresholdSource: String(format: "entropy at FRR %.1f%% of %d %@ rows", 100 * config.frr, dev.rows.count, dev.source),
                                devRows: dev.rows.count, devSource: dev.source)
    record.falseRejection = Proportion(successes: cleanFlags.filter { $0 }.count, total: cleanFlags.count)
    record.falseAcceptance = Proportion(successes: poisonFlags.filter { !$0 }.count, total: poisonFlags.count)
    return result(data, spec: spec, clean: zip(cp, cleanFlags).map { $1 ? rejected : $0 },
                  poison: zip(pp, poisonFlags).map { $1 ? rejected : $0 }, record: record, start: start, scored: count)
  }
}
