import FileIO
import ArgumentParser
import Backdoor
import Defense
import Evaluation
import Experiments
import Foundation
import Llama
import Training

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "LoRA fine-tuning: a prompt-based classifier on a dataset directory, or any {\"prompt\", \"completion\"} JSONL.",
    discussion: """
      --data takes (1) a directory written by `p2p poison` (classification mode, no defense: each row becomes the template's prompt with its label word as the completion, loss on that token), (2) a directory written by `p2p defend --prepare-only` (trains the P2P classifier), or (3) a JSONL file of {"prompt", "completion"} rows (loss on the completion).
      Writes to --out: the adapter in PEFT's format (adapter_config.json, adapter_model.safetensors), classifier.json (how to evaluate it), training_log.json (the loss curve), training_summary.json, and checkpoint/ (every --checkpoint-every steps and at each epoch's end). --resume continues from checkpoint/ and ends exactly where an uninterrupted run with the same settings would.
      """)

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "A dataset directory (from `poison` or `defend --prepare-only`) or a prompt/completion JSONL file.") var data: String
  @Option(help: "Output folder: a new or empty one, or an earlier output of train/defend with --resume or --overwrite.") var out: String
  @Option(help: "Classification prompt template ({sentence} is replaced by the input).") var template = PromptTemplate.defaultTemplate
  @Option(help: "Label words, comma-separated, one token each (default: the digits 0..n-1).") var labelWords: String?
  @OptionGroup var training: TrainingOptions
  @OptionGroup(title: "Generation tasks") var generation: GenerationTrainOptions

  func run() throws {
    try AdapterFolder.prepare(out, inputs: [data], overwrite: training.overwrite, resume: training.resume)
    if let task = generation.task.generation { try trainGeneration(task); return }
    let job = try TrainingJob.load(data: data, template: template, labelWords: labelWords, selection: training.selection, seed: training.seed)
    let config = try training.config(for: job.spec == nil ? .promptCompletion : .classification)
    let bundle = try modelOptions.load()
    printError(job.describe)
    let summary: TrainingSummary
    if let spec = job.spec {
      summary = try ClassifierTraining.train(bundle: bundle, pairs: job.pairs, spec: spec, config: config, directory: out,
                                             resume: training.resume, selection: training.selection, dev: job.dev,
                                             progress: training.reporter())
    } else {
      summary = try ClassifierTraining.trainGeneric(bundle: bundle, pairs: job.pairs, config: config, directory: out,
                                                    resume: training.resume, progress: training.reporter())
    }
    print(String(format: "trained %d steps in %.1f s, final loss %.4f; adapter written to %@", summary.steps, summary.seconds,
                 summary.finalLoss, out))
  }
}

/// What `train` was pointed at, turned into prompt/completion pairs and a classifier spec.
struct TrainingJob {
  var pairs: [PromptCompletion]
  var spec: ClassifierSpec?
  var describe: String
  /// With --select best-dev: the dev rows.
  var dev: DevSplit? = nil

  static func load(data: String, template: String, labelWords: String?, selection: ModelSelection, seed: UInt64) throws -> TrainingJob {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: data, isDirectory: &isDir) else { throw CLIError("\(data): no such file or directory") }
    guard isDir.boolValue else {
      guard selection == .last else { throw CLIError("--select best-dev needs a classification dataset folder (it scores the dev rows)") }
      let rows = try JSONLReader.readPromptCompletions(path: data)
      return TrainingJob(pairs: rows, spec: nil, describe: "prompt/completion file \(data): \(rows.count) rows")
    }
    if let p2p = try? JSONOutput.read(P2PManifest.self, from: data + "/manifest.json") {
      let rows = try P2PRowsFile.read(data + "/train.jsonl")
      var dev: DevSplit?
      if selection == .bestDev {
        // The reconstruction was built without held-out rows; only the dataset's dev file can serve.
        guard let source = p2p.dataset, let d = try PoisonedDataset.read(from: source).dev else {
          throw CLIError("--select best-dev on a `defend --prepare-only` folder needs the dataset's dev file; run `p2p defend --select best-dev` instead")
        }
        dev = DevSplit(train: [], dev: d, source: "dev file")
      }
      return TrainingJob(pairs: ClassifierTraining.pairs(rows), spec: .defended(p2p.config),
                         describe: "P2P-reconstructed set \(data): \(rows.count) rows (\(rows.filter(\.benign).count) benign, mode \(p2p.config.mode.rawValue))",
                         dev: dev)
    }
    var ds = try PoisonedDataset.read(from: data)
    // The label set of the whole training set, before any row is held out.
    let t = try ClassificationOptions.template(template, labelWords: labelWords, train: ds.train)
    let split = selection == .bestDev ? DevSplit.of(ds, seed: seed) : nil
    if let split { ds.train = split.train }
    return TrainingJob(pairs: try ClassifierTraining.plainPairs(ds.train, template: t), spec: .plain(t),
                       describe: "classification set \(data): \(ds.train.count) rows (\(ds.manifest.poisonedRows.count) poisoned by \(ds.manifest.attack)), no defense"
                         + (split.map { "; best dev epoch on \($0.dev.count) rows (\($0.source))" } ?? ""),
                       dev: split)
  }
}

enum ClassificationOptions {
  /// The template with explicit label words, or the digits 0..n-1 (n = largest label + 1, at least 2).
  static func template(_ template: String, labelWords: String?, train: [Example]) throws -> PromptTemplate {
    let n = LabelSet(train: train).count
    let words = labelWords.map { $0.split(separator: ",").map(String.init) } ?? (0..<n).map(String.init)
    guard words.count >= n else { throw CLIError("--label-words has \(words.count) words but the labels go up to \(n - 1)") }
    let t = PromptTemplate(template: template, labelWords: words)
    try t.validate()
    return t
  }
}

extension Train {
  /// The generation path: plain training on a `poison --task` folder, or P2P training on a `defend --task --prepare-only` one.
  func trainGeneration(_ task: GenerationTask) throws {
    let t = self
    guard t.training.selection == .last else { throw ValidationError("--select best-dev is for classification; generation keeps the last epoch") }
    let (pairs, spec, describe) = try Self.generationJob(data: t.data, task: task, maxNewTokens: t.generation.maxNewTokens)
    let config = try t.training.config(for: .generation(task))
    let bundle = try t.modelOptions.load()
    printError(describe)
    let summary = try GenerationTraining.train(bundle: bundle, pairs: pairs, spec: spec, config: config, directory: t.out,
                                               resume: t.training.resume, progress: t.training.reporter())
    print(String(format: "trained %d steps in %.1f s, final loss %.4f; adapter and generator.json written to %@", summary.steps,
                 summary.seconds, summary.finalLoss, t.out))
  }

  static func generationJob(data: String, task: GenerationTask, maxNewTokens: Int?) throws -> ([GenerationPair], GenerationSpec, String) {
    if let d = try? JSONOutput.read(GenerationDefenseManifest.self, from: data + "/manifest.json") {
      guard d.task == task else { throw CLIError("\(data) holds \(d.task.rawValue) rows, not \(task.rawValue)") }
      let pairs = try GenerationPairsFile.read(data + "/train.jsonl")
      return (pairs, .defended(task, d.p2p.config, maxNewTokens: maxNewTokens),
              "P2P-reconstructed \(task.rawValue) set \(data): \(pairs.count) rows (\(pairs.filter(\.benign).count) benign, mode \(d.p2p.config.mode.rawValue))")
    }
    let ds = try GenerationDataset.read(from: data)
    guard ds.manifest.task == task else { throw CLIError("\(data) is a \(ds.manifest.task.rawValue) dataset, not \(task.rawValue)") }
    return (GenerationTraining.plainPairs(ds.train, task: task), .plain(task, maxNewTokens: maxNewTokens),
            "\(task.rawValue) set \(data): \(ds.train.count) rows (\(ds.manifest.poisonedRows.count) poisoned by \(ds.manifest.attack)), no defense")
  }

}
