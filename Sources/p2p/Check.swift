import ArgumentParser
import Backdoor
import Defense
import Evaluation
import Experiments
import FileIO
import Foundation
import Inference
import Llama
import Training

struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check a P2P adapter's safe label space without labelled test rows.",
    discussion: """
      The deployed wrapper reads only the safe label space, which learns from the benign rows alone; when it fails to learn \
      a label, the wrapper never answers it, and its ASR on that label looks like a defense. This answers a seeded sample of \
      the training inputs (train.jsonl of a `p2p poison` folder) through the wrapper and compares each label's share of the \
      answers with its share in the dev split (else the clean test split's label counts, else the training labels). A label \
      with at least 10% of the reference that gets under a quarter of that share is reported as dropped, and the command \
      exits with status 1. Writes safe_space_check.json into the adapter folder. `p2p defend` runs the same check after \
      training.
      """)

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "A P2P adapter directory written by `p2p defend`.") var adapter: String
  @Option(help: "Dataset directory written by `p2p poison`: its train.jsonl rows are answered.") var data: String
  @Option(help: "Training inputs to answer (a seeded sample; all when fewer).") var rows = SafeSpaceCheck.defaultRows
  @Option(help: "Seed of the sample.") var seed: UInt64 = 42
  @Flag(help: "No progress line.") var quiet = false

  func validate() throws {
    guard rows > 0 else { throw ValidationError("--rows must be positive") }
  }

  func run() throws {
    guard let spec = try ClassifierSpec.forAdapter(adapter), spec.kind == .p2p else {
      throw CLIError("\(adapter) holds no P2P classifier (classifier.json from `p2p defend`)")
    }
    let ds = try PoisonedDataset.read(from: data)
    let bundle = try modelOptions.load()
    do { try PEFTAdapter.load(from: adapter, model: bundle.model.config).merge(into: bundle.model) } catch {
      throw CLIError("cannot load the adapter in '\(adapter)': \(error)")
    }
    let check = try Self.check(spec: spec, bundle: bundle, train: ds.train, dev: ds.dev, test: ds.testClean, rows: rows, seed: seed,
                             adapter: adapter, quiet: quiet)
    print("safe-space check: \(check.summary)")
    if let warning = check.warning {
      printError("WARNING: \(warning)")
      throw ExitCode(1)
    }
    print("every label is answered; written to \(adapter)/\(SafeSpaceCheck.fileName)")
  }

  /// The check of the adapter merged into `bundle`, written next to it (shared with `p2p defend`).
  static func check(spec: ClassifierSpec, bundle: ModelBundle, train: [Example], dev: [Example]?, test: [Example]?, rows: Int, seed: UInt64,
                  adapter: String, quiet: Bool) throws -> SafeSpaceCheck {
    let reference = try Defender.reference(dev: dev, test: test, labels: spec.labels)
    let bar = ProgressLine(enabled: !quiet)
    let check = try SafeSpaceCheck.run(scorer: PromptScorer(bundle), spec: spec, train: train, reference: reference, rows: rows, seed: seed) {
      bar.update("safe-space check: \($0)/\($1) training inputs")
    }
    bar.finishLine()
    try JSONOutput.write(check, to: adapter + "/" + SafeSpaceCheck.fileName)
    return check
  }
}
