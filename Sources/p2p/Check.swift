import ArgumentParser
import Backdoor
import Evaluation
import Experiments
import FileIO
import Foundation
import Inference
import Llama
import Training

struct Check: ParsableCommand {
  /// The exit status when a label is dropped, most inputs get no label word, or the wrapper's dev
  /// macro-F1 is more than 5 points under the plain prompt's (an error exits with 1).
  static let failedStatus: Int32 = 2

  static let configuration = CommandConfiguration(
    abstract: "Check a P2P adapter's safe label space without judging its answers against gold labels.",
    discussion: """
      The deployed wrapper reads only the safe label space, which learns from the benign rows alone; when it fails to learn \
      a label, the wrapper never answers it, and its ASR on that label looks like a defense. This answers a seeded sample of \
      inputs (the dev split's rows of a `p2p poison` folder, else its training rows) through the wrapper and compares each \
      label's share of the answers with its share in the dev split (else the clean test split's label counts, else the \
      inputs' labels). A label with at least 10% of the reference that gets under a quarter of that share is reported as \
      dropped, and the command exits with status 2 (1: an error). The plain prompt of the same model (the original label \
      space) answers the same inputs: the share answered alike is reported, and on dev inputs both macro-F1s against the \
      dev labels; a wrapper more than 5 points under the plain prompt also exits with status 2 (its safe space learned \
      the task worse). Writes safe_space_check.json into the adapter folder. `p2p defend` runs the same check after training.
      """)

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "A P2P adapter directory written by `p2p defend`.") var adapter: String
  @Option(help: "Dataset directory written by `p2p poison`: its dev.jsonl rows are answered, else its train.jsonl rows.") var data: String
  @Option(help: "Inputs to answer (a seeded sample; all when fewer).") var rows = SafeSpaceCheck.defaultRows
  @Option(help: "Seed of the sample (default: the adapter's training seed, as the grid uses).") var seed: UInt64?
  @Flag(help: "No progress line.") var quiet = false

  func validate() throws {
    guard rows > 0 else { throw ValidationError("--rows must be positive") }
  }

  func run() throws {
    guard let spec = try ClassifierSpec.forAdapter(adapter), spec.kind == .p2p, let config = spec.p2p else {
      throw CLIError("\(adapter) holds no P2P classifier (classifier.json from `p2p defend`)")
    }
    let ds = try PoisonedDataset.read(from: data)
    let bundle = try modelOptions.load()
    do { try PEFTAdapter.load(from: adapter, model: bundle.model.config).merge(into: bundle.model) } catch {
      throw CLIError("cannot load the adapter in '\(adapter)': \(error)")
    }
    let check = try Self.check(spec: spec, bundle: bundle, data: ds, rows: rows, seed: seed ?? config.seed,
                               adapter: adapter, quiet: quiet)
    if check.warning != nil { throw ExitCode(Self.failedStatus) }
    print("no label dropped\(check.macroF1 == nil ? "" : ", the wrapper within \(Int(SafeSpaceCheck.maxMacroF1Loss)) points of the plain prompt's dev macro-F1"); written to \(adapter)/\(SafeSpaceCheck.fileName)")
  }

  /// The check of the adapter merged into `bundle` on the rows of `data`, printed and then
  /// written next to the adapter (shared with `p2p defend`).
  static func check(spec: ClassifierSpec, bundle: ModelBundle, data: PoisonedDataset, rows: Int, seed: UInt64,
                    adapter: String, quiet: Bool) throws -> SafeSpaceCheck {
    let bar = ProgressLine(enabled: !quiet)
    let check = try SafeSpaceCheck.run(scorer: PromptScorer(bundle), spec: spec, data: data, rows: rows, seed: seed) {
      bar.update("safe-space check: \($1)/\($2) \($0) inputs")
    }
    bar.finishLine()
    print("safe-space check: \(check.summary)")
    if let warning = check.warning { printError("WARNING: \(warning)") }
    try JSONOutput.write(check, to: adapter + "/" + SafeSpaceCheck.fileName)
    return check
  }
}
