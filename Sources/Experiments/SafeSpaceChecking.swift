import Backdoor
import Defense
import Evaluation
import FileIO

extension SafeSpaceCheck {
  /// The check on the rows of a `p2p poison` folder, as `p2p check`, `p2p defend` and the grid run
  /// it: the dev split's rows (else the training rows) against the reference the screens use
  /// (`Defender.reference`); `progress` gets the input source, the inputs done and their count.
  public static func run(scorer: any LabelScorer, spec: ClassifierSpec, data: PoisonedDataset, rows: Int = defaultRows, seed: UInt64,
                         progress: @escaping (String, Int, Int) -> Void = { _, _, _ in }) throws -> SafeSpaceCheck {
    let reference: LabelReference?
    do { reference = try Defender.reference(dev: data.dev, test: data.testClean, labels: spec.labels) } catch {
      throw ExperimentError.invalid(key: "label counts of dev.jsonl or test-clean.jsonl", expected: "labels of the classifier (0..<\(spec.labels)): \(error)")
    }
    let (inputs, source) = inputs(dev: data.dev, train: data.train)
    return try run(scorer: scorer, spec: spec, inputs: inputs, inputSource: source, reference: reference, rows: rows, seed: seed) {
      progress(source, $0, $1)
    }
  }
}
