import Backdoor
import Defense

extension LabelAgreement {
  /// Margins of `train` under `classifier` (a zero-shot prompt on the base model whose label
  /// words are the label names in label order). `progress` gets the rows done.
  public static func margins(_ train: [Example], classifier: VerbalizerClassifier,
                             progress: (Int) -> Void = { _ in }) throws -> [Float] {
    guard classifier.labelIDs.count >= 2 else {
      throw DefenseError.invalidConfig(key: "agreement prompt", value: "\(classifier.labelIDs.count) label words", expected: "one per label")
    }
    let s = try classifier.scores(train.map(\.text), progress: progress)
    return try margins(scores: s, labels: train.map(\.label))
  }
}
