import ArgumentParser
import Backdoor
import Defense
import Evaluation
import FileIO
import Foundation
import Inference
import Training

struct Calibrate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Calibrate a P2P adapter's safe label space on clean dev rows.",
    discussion: """
      The safe label space is trained on the benign rows only; with few steps or imbalanced labels its scores can favour one \
      label for every input. This scores the dataset's dev rows (dev.jsonl of a `p2p poison` folder: clean, labelled) through \
      the wrapper, fits one offset per safe label that maximizes their macro-F1, and records the offsets in the adapter's \
      classifier.json, where `p2p evaluate` and every use of the wrapper apply them. Running it again refits from the scores.
      """)

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "A P2P adapter directory written by `p2p defend`.") var adapter: String
  @Option(help: "Dataset directory written by `p2p poison`, whose dev.jsonl holds the calibration rows.") var data: String
  @Flag(help: "No progress line.") var quiet = false

  func run() throws {
    guard let spec = try ClassifierSpec.forAdapter(adapter), spec.kind == .p2p else {
      throw CLIError("\(adapter) holds no P2P classifier (classifier.json from `p2p defend`)")
    }
    let ds = try PoisonedDataset.read(from: data)
    guard let dev = ds.dev, !dev.isEmpty else {
      throw CLIError("\(data) has no dev rows (dev.jsonl): poison a dataset with a dev file, or add one")
    }
    let bundle = try modelOptions.load()
    do { try PEFTAdapter.load(from: adapter, model: bundle.model.config).merge(into: bundle.model) } catch {
      throw CLIError("cannot load the adapter in '\(adapter)': \(error)")
    }
    let bar = ProgressLine(enabled: !quiet)
    let calibrated = try ClassificationEvaluation.calibrated(spec, scorer: PromptScorer(bundle), rows: dev) { bar.update("dev rows: \($0)/\(dev.count)") }
    bar.finishLine()
    try calibrated.spec.save(in: adapter)
    print("safe-label offsets \(calibrated.spec.safeBias?.map { String(format: "%.3f", $0) }.joined(separator: ", ") ?? "") "
      + "fitted on \(dev.count) dev rows; written to \(adapter)/\(ClassifierSpec.fileName)")
    print("predictions on the dev rows per label: \(calibrated.shift.before) -> \(calibrated.shift.after)")
    let suspected = (try? JSONOutput.read(P2PManifest.self, from: adapter + "/manifest.json"))?.probePoisonedLabels ?? []
    if let caution = calibrated.shift.caution(suspected: suspected) { printError("warning: " + caution) }
  }
}
