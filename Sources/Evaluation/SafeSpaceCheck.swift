import Backdoor
import Defense
import FileIO
import TensorCore

/// A check of a trained P2P adapter that needs no labelled test rows (our extension): the
/// deployed wrapper answers a seeded sample of the training inputs, and each label's share of its
/// answers is compared with the label's share in a reference (`LabelReference`: the dev split,
/// else the clean test split's label counts, else the training rows' own labels). A label the
/// wrapper (nearly) never answers is *dropped*, by the rule of the test-set guard
/// (`ClassBalance.droppedGoldShare`, `droppedRatio`): its safe label space did not learn that
/// label, and the wrapper's low ASR on it is no defense. (On AG News StyleBkd seed 2 the default's
/// wrapper answered World for none of the 1,000 training inputs, 0 of 400 clean test rows.)
///
/// The training inputs include the poisoned ones; a defended wrapper answers those with their
/// text's label, so the answer shares approach the clean shares, not the poisoned labels'.
public struct SafeSpaceCheck: Codable, Sendable, Equatable {
  public static let fileName = "safe_space_check.json"
  /// Training inputs answered when none is given.
  public static let defaultRows = 400

  /// Training inputs the wrapper answered.
  public var rows: Int
  /// Each label's share of the wrapper's answers (rows it answered with no label word excluded).
  public var answerShares: [Double]
  public var referenceShares: [Double]
  public var referenceSource: String
  /// Labels with at least `ClassBalance.droppedGoldShare` of the reference whose answer share is
  /// under `ClassBalance.droppedRatio` times it, ascending.
  public var droppedLabels: [Int]

  public init(predicted: [Int], reference: LabelReference) {
    let n = reference.shares.count
    var counts = [Int](repeating: 0, count: n)
    for p in predicted where p >= 0 && p < n { counts[p] += 1 }
    let answered = counts.reduce(0, +)
    rows = predicted.count
    answerShares = counts.map { answered > 0 ? Double($0) / Double(answered) : 0 }
    referenceShares = reference.shares
    referenceSource = reference.source
    let shares = answerShares, ref = reference.shares
    droppedLabels = (0..<n).filter { ref[$0] >= ClassBalance.droppedGoldShare && shares[$0] < ClassBalance.droppedRatio * ref[$0] }
  }

  /// The reference: `reference` when given, else the label shares of `train`.
  public static func reference(_ reference: LabelReference?, train: [Example], labels: Int) throws -> LabelReference {
    if let reference { return reference }
    return try LabelReference.counted(train.map(\.label), classes: labels, source: "the training rows' labels (no dev or test split)")
  }

  /// Up to `rows` training inputs, drawn with `seed`, in ascending order.
  public static func sample(_ train: [Example], rows: Int, seed: UInt64) -> [Example] {
    guard rows < train.count else { return train }
    var rng = SeededRNG(seed: seed ^ 0x7361_6665_5F63_6B)
    return Sampling.choose(rows, from: Array(train.indices), using: &rng).sorted().map { train[$0] }
  }

  /// Answers the sampled training inputs through the deployed wrapper of `spec` (merged into the
  /// model behind `scorer`) and judges the answer shares.
  public static func run(scorer: any LabelScorer, spec: ClassifierSpec, train: [Example], reference: LabelReference?,
                         rows: Int = defaultRows, seed: UInt64, progress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> SafeSpaceCheck {
    guard spec.kind == .p2p, let config = spec.p2p else {
      throw EvaluationError.emptyInput("the safe-space check needs a P2P classifier (classifier.json from `p2p defend`)")
    }
    guard !train.isEmpty else { throw EvaluationError.emptyInput("the safe-space check needs training rows") }
    let ref = try Self.reference(reference, train: train, labels: config.labels)
    guard ref.shares.count == config.labels else {
      throw EvaluationError.emptyInput("reference label shares (\(ref.source)): \(ref.shares.count), the classifier has \(config.labels) labels")
    }
    let picked = sample(train, rows: rows, seed: seed)
    let texts = picked.map(\.text)
    // The deployed predictions (`ClassificationEvaluation.predictDeployed`), with progress.
    let wrapper = try DefendedClassifier(scorer: scorer, config: config)
    let report: (Int) -> Void = { progress($0, texts.count) }
    let predicted = config.unrestricted
      ? try DefendedClassifier.Unrestricted(wrapper).predict(texts, progress: report)
      : try wrapper.labelWordScores(texts, progress: report).map(DefendedClassifier.safePrediction(n: config.labels, bias: spec.safeBias))
    return SafeSpaceCheck(predicted: predicted, reference: ref)
  }

  /// "answers label 0 for 0.0% of 400 training inputs (reference 23.3%, clean test split)"; nil when no label is dropped.
  public var warning: String? {
    guard !droppedLabels.isEmpty else { return nil }
    let labels = droppedLabels.map { String(format: "label %d for %.1f%% (reference %.1f%%)", $0, 100 * answerShares[$0], 100 * referenceShares[$0]) }
    return "the defended classifier answers \(labels.joined(separator: ", ")) of \(rows) training inputs (reference: \(referenceSource)): "
      + "its safe label space did not learn \(droppedLabels.count == 1 ? "that label" : "those labels"), and a low ASR on "
      + "\(droppedLabels.count == 1 ? "it" : "them") is no defense. Do not deploy this adapter."
  }

  /// "answer shares 25.0 / 24.8 / 26.0 / 24.2 % of 400 training inputs, reference 23.3 / 24.0 / 27.5 / 25.3 % (dev split)".
  public var summary: String {
    func p(_ v: [Double]) -> String { v.map { String(format: "%.1f", 100 * $0) }.joined(separator: " / ") }
    return "answer shares \(p(answerShares)) % of \(rows) training inputs, reference \(p(referenceShares)) % (\(referenceSource))"
  }
}
