import Backdoor
import Defense
import FileIO
import TensorCore

/// A check of a trained P2P adapter that judges no prediction against a gold label (our
/// extension): the deployed wrapper answers a seeded sample of inputs, and each label's share of
/// its answers is compared with the label's share in a reference (`LabelReference`: the dev split,
/// else the clean test split's label counts, else the inputs' own labels). A label the wrapper
/// (nearly) never answers is *dropped*, by the rule of the test-set guard
/// (`ClassBalance.droppedGoldShare`, `droppedRatio`): its safe label space did not learn that
/// label, and the wrapper's low ASR on it is no defense. (On AG News StyleBkd seed 2 the default's
/// wrapper answered World for none of the 1,000 training inputs and 0 of 400 clean test rows.)
///
/// The inputs are the dev split's when the dataset has one (clean rows), else the training rows.
/// Training rows include the poisoned ones: a defended wrapper answers those with their text's
/// label, but one whose safe space learned the target only from triggered rows would answer it for
/// them alone, which can hide a target that clean inputs never get.
public struct SafeSpaceCheck: Codable, Sendable, Equatable {
  public static let fileName = "safe_space_check.json"
  /// Inputs answered when no number is given.
  public static let defaultRows = 400

  /// Inputs the wrapper was given, and how many of them it answered with a label word (fewer only
  /// with the whole-vocabulary argmax).
  public var rows: Int
  public var answered: Int
  /// "dev" (the dev split's rows) or "training".
  public var inputSource: String
  /// Each label's share of the answered inputs.
  public var answerShares: [Double]
  public var referenceShares: [Double]
  public var referenceSource: String
  /// Labels with at least `ClassBalance.droppedGoldShare` of the reference whose answer share is
  /// under `ClassBalance.droppedRatio` times it, ascending (every such label when nothing was answered).
  public var droppedLabels: [Int]
  /// The safe-label offsets of a calibrated classifier (`p2p calibrate`) the answers were read with.
  public var safeBias: [Float]?
  /// The share of the inputs that the wrapper and the plain prompt of the same model (the original
  /// label space, no benign trigger) answer with the same label (nil in checks written before).
  /// On training inputs the poisoned rows lower it by design (the plain prompt obeys the trigger).
  public var agreement: Double?
  /// With dev inputs (clean and labelled, the split `p2p calibrate` fits on): the macro-F1 of the
  /// wrapper's answers and of the plain prompt's against the dev labels. The wrapper losing more
  /// than `maxMacroF1Loss` points to the plain prompt is reported: its safe label space learned the
  /// task worse than the original one, which a label-share check misses when every label is still
  /// answered (AG News StyleBkd seed 2 under `p2p-confirm`: 5.7 points of macro-F1 under the
  /// undefended model on the clean test rows, no label dropped). nil on training inputs.
  public var macroF1: Double?
  public var plainMacroF1: Double?
  /// Points of dev macro-F1 the wrapper may lose to the plain prompt before the check fails. The
  /// verdict's limit against the undefended model is 2 points; the check has 400 dev rows (the
  /// binomial standard error of an accuracy near 90% on 400 rows is 1.5 points) and only its own
  /// plain prompt to compare with. Set before any cell was checked with it; on the six SST-2
  /// `p2p-confirm` cells the wrapper was 0.1-5.9 points above the plain prompt.
  public static let maxMacroF1Loss = 5.0

  public init(predicted: [Int], reference: LabelReference, inputSource: String = "training", safeBias: [Float]? = nil) {
    let n = reference.shares.count
    var counts = [Int](repeating: 0, count: n)
    for p in predicted where p >= 0 && p < n { counts[p] += 1 }
    let answered = counts.reduce(0, +)
    rows = predicted.count
    self.answered = answered
    self.inputSource = inputSource
    self.safeBias = safeBias
    answerShares = counts.map { answered > 0 ? Double($0) / Double(answered) : 0 }
    referenceShares = reference.shares
    referenceSource = reference.source
    droppedLabels = ClassBalance.dropped(expected: reference.shares, answered: answerShares)
  }

  /// The inputs to answer: the dev split's rows when there are any, else the training rows.
  public static func inputs(dev: [Example]?, train: [Example]) -> (rows: [Example], source: String) {
    if let dev, !dev.isEmpty { return (dev, "dev") }
    return (train, "training")
  }

  /// Up to `rows` of `examples`, drawn with `seed`, in their order.
  public static func sample(_ examples: [Example], rows: Int, seed: UInt64) -> [Example] {
    guard rows < examples.count else { return examples }
    var rng = SeededRNG(seed: seed ^ 0x7361_6665_5F63_6B)
    return Sampling.choose(rows, from: Array(examples.indices), using: &rng).sorted().map { examples[$0] }
  }

  /// Answers a sample of `inputs` through the deployed wrapper of `spec` (merged into the model
  /// behind `scorer`) and judges the answer shares against `reference` (nil: the inputs' labels).
  public static func run(scorer: any LabelScorer, spec: ClassifierSpec, inputs: [Example], inputSource: String, reference: LabelReference?,
                         rows: Int = defaultRows, seed: UInt64, progress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> SafeSpaceCheck {
    guard spec.kind == .p2p, let config = spec.p2p else {
      throw EvaluationError.emptyInput("the safe-space check needs a P2P classifier (classifier.json from `p2p defend`)")
    }
    guard !inputs.isEmpty else { throw EvaluationError.emptyInput("the safe-space check needs input rows (\(inputSource))") }
    let ref: LabelReference
    if let reference { ref = reference } else {
      do { ref = try LabelReference.counted(inputs.map(\.label), classes: config.labels, source: "the \(inputSource) inputs' labels (no dev or test split)") } catch {
        throw EvaluationError.emptyInput("the labels of the \(inputSource) for the safe-space check's reference: \(error)")
      }
    }
    guard ref.shares.count == config.labels else {
      throw EvaluationError.emptyInput("a reference with one share per label: \(ref.source) has \(ref.shares.count), the classifier \(config.labels) labels")
    }
    let sample = sample(inputs, rows: rows, seed: seed)
    let texts = sample.map(\.text)
    let predicted = try ClassificationEvaluation.predictDeployed(scorer: scorer, spec: spec, texts: texts) { progress($0, 2 * texts.count) }
    let plain = try VerbalizerClassifier(scorer: scorer, template: config.originalPrompt).predict(texts) { progress(texts.count + $0, 2 * texts.count) }
    var check = SafeSpaceCheck(predicted: predicted, reference: ref, inputSource: inputSource, safeBias: spec.safeBias)
    check.compare(predicted: predicted, plain: plain, gold: inputSource == "dev" ? sample.map(\.label) : nil, labels: config.labels)
    return check
  }

  /// Records the agreement of the wrapper's answers with the plain prompt's, and with `gold` (the
  /// dev rows' labels) both macro-F1s.
  public mutating func compare(predicted: [Int], plain: [Int], gold: [Int]?, labels: Int) {
    let n = min(predicted.count, plain.count)
    agreement = n > 0 ? Double((0..<n).filter { predicted[$0] == plain[$0] }.count) / Double(n) : nil
    guard let gold, gold.count == n, n > 0 else { macroF1 = nil; plainMacroF1 = nil; return }
    macroF1 = ClassificationMetrics(gold: gold, predicted: predicted, labels: labels).macroF1
    plainMacroF1 = ClassificationMetrics(gold: gold, predicted: plain, labels: labels).macroF1
  }

  /// Whether the wrapper's dev macro-F1 is more than `maxMacroF1Loss` points under the plain prompt's.
  public var losesTheTask: Bool {
    guard let m = macroF1, let p = plainMacroF1, m.isFinite, p.isFinite else { return false }
    return 100 * (p - m) > Self.maxMacroF1Loss
  }

  /// Whether the wrapper answered fewer than half of its inputs with a label word.
  public var mostlyUnanswered: Bool { 2 * answered < rows }

  /// Why the adapter should not be deployed; nil when every label is answered and (with dev inputs)
  /// the wrapper's macro-F1 is within `maxMacroF1Loss` points of the plain prompt's.
  public var warning: String? {
    var parts: [String] = []
    if !droppedLabels.isEmpty {
      let labels = droppedLabels.map { String(format: "label %d for %.1f%% (reference %.1f%%)", $0, 100 * answerShares[$0], 100 * referenceShares[$0]) }
      parts.append("the defended classifier answers \(labels.joined(separator: ", ")) of \(answered) answered \(inputSource) inputs "
        + "(reference: \(referenceSource)): its safe label space did not learn \(droppedLabels.count == 1 ? "that label" : "those labels"), "
        + "and a low ASR on \(droppedLabels.count == 1 ? "it" : "them") is no defense")
    }
    if mostlyUnanswered { parts.append("the wrapper answered no label word for \(rows - answered) of \(rows) inputs") }
    if losesTheTask, let m = macroF1, let p = plainMacroF1 {
      parts.append(String(format: "on %d dev inputs the wrapper's macro-F1 is %.1f, %.1f points under the plain prompt's %.1f: its safe label space "
        + "learned the task worse than the original one", rows, 100 * m, 100 * (p - m), 100 * p))
    }
    return parts.isEmpty ? nil : parts.joined(separator: "; ") + ". Do not deploy this adapter."
  }

  /// "answer shares 25.0 / 24.8 / 26.0 / 24.2 % of 400 dev inputs (400 answered), reference …".
  public var summary: String {
    func p(_ v: [Double]) -> String { v.map { String(format: "%.1f", 100 * $0) }.joined(separator: " / ") }
    var s = "answer shares \(p(answerShares)) % of \(rows) \(inputSource) inputs (\(answered) answered\(safeBias == nil ? "" : ", calibrated")), "
      + "reference \(p(referenceShares)) % (\(referenceSource))"
    if let a = agreement { s += String(format: "; the plain prompt answers alike for %.1f%%", 100 * a) }
    if let m = macroF1, let q = plainMacroF1 { s += String(format: "; dev macro-F1 %.1f through the wrapper, %.1f plain", 100 * m, 100 * q) }
    return s
  }
}
