import FileIO
import Backdoor
import Defense
import Evaluation
import Foundation
import Llama
import Training

/// LoRA fine-tuning of a prompt-based classifier (loss on the label token only) and the files it
/// leaves in its directory: the PEFT adapter, `classifier.json`, `training_log.json`,
/// `training_summary.json` and `checkpoint/` (so an interrupted run resumes exactly).
public enum ClassifierTraining {
  /// Prompt/completion pairs of an undefended classifier.
  public static func plainPairs(_ rows: [Example], template: PromptTemplate) throws -> [PromptCompletion] {
    try rows.map { e in
      let p = try template.trainingPair(e)
      return PromptCompletion(prompt: p.prompt, completion: p.completion)
    }
  }

  /// Prompt/completion pairs of a P2P-reconstructed set.
  public static func pairs(_ rows: [P2PRow]) -> [PromptCompletion] {
    rows.map { PromptCompletion(prompt: $0.prompt, completion: $0.completion) }
  }

  /// Trains the classifier; with `selection: .bestDev` the adapter of every epoch is kept in
  /// `epochs/` and the one with the best macro-F1 on `dev` through the deployed path becomes the
  /// result (`selection.json` records the scores).
  public static func train(
    bundle: ModelBundle, pairs: [PromptCompletion], spec: ClassifierSpec, config: TrainingConfig, directory: String,
    resume: Bool, selection: ModelSelection = .last, dev: DevSplit? = nil, initialAdapter: LoRAParameters? = nil,
    progress: (TrainingEvent) -> Void = { _ in }
  ) throws -> TrainingSummary {
    try spec.validate()
    // Every label word (original and safe) must be one token, checked before any training.
    let prompts = spec.p2p.map { [$0.originalPrompt, $0.benignPrompt] } ?? spec.template.map { [$0] } ?? []
    for p in prompts { _ = try p.labelTokenIDs { bundle.tokenizer.encode($0) } }
    if selection == .bestDev {
      guard let dev, !dev.dev.isEmpty else { throw ExperimentError.invalid(key: "selection best-dev", expected: "development rows") }
      try LabelSet(count: spec.labels).validate(dev.dev, path: "dev rows")
    }
    return try run(bundle: bundle, examples: tokenize(pairs, bundle: bundle, config: config), config: config, directory: directory,
                   resume: resume, progress: progress, snapshotEpochs: selection == .bestDev, initialAdapter: initialAdapter) { dir in
      if selection == .bestDev, let dev { _ = try selectBestDev(bundle: bundle, spec: spec, dev: dev, epochs: config.epochs, directory: dir) }
      try spec.save(in: dir)
    }
  }

  static func tokenize(_ pairs: [PromptCompletion], bundle: ModelBundle, config: TrainingConfig) throws -> [TokenizedExample] {
    try pairs.map { r in
      try TokenizedExample(prompt: bundle.tokenizer.encodeInput(r.prompt), completion: bundle.tokenizer.encode(r.completion),
                           maxLength: config.maxLength)
    }
  }

  /// Trains on tokenized examples and leaves the adapter, the logs and `saveExtra`'s files in
  /// `directory` (shared by classifier, plain and generation training).
  public static func run(
    bundle: ModelBundle, examples: [TokenizedExample], config: TrainingConfig, directory: String, resume: Bool,
    progress: (TrainingEvent) -> Void, snapshotEpochs: Bool = false, initialAdapter: LoRAParameters? = nil,
    saveExtra: (String) throws -> Void = { _ in }
  ) throws -> TrainingSummary {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let trainer = try Trainer(base: bundle.model, examples: examples, config: config, checkpointDirectory: directory,
                              initialAdapter: initialAdapter)
    // Each epoch's adapter, for model selection (`epochs/epoch-N`), saved before the epoch's
    // checkpoint: a run killed after that checkpoint always has it.
    let summary = try trainer.run(resume: resume, progress: progress) { (epoch: Int) throws(TrainingError) in
      guard snapshotEpochs else { return }
      try PEFTAdapter.save(trainer.lora, model: bundle.model.config, baseModel: (bundle.path as NSString).lastPathComponent,
                           to: epochFolder(directory, epoch: epoch))
    }
    try PEFTAdapter.save(trainer.lora, model: bundle.model.config, baseModel: (bundle.path as NSString).lastPathComponent, to: directory)
    try saveExtra(directory)
    try JSONOutput.write(summary.lossHistory, to: directory + "/training_log.json")
    try JSONOutput.write(summary, to: directory + "/training_summary.json")
    return summary
  }
}

extension ClassifierTraining {
  /// Plain causal-LM fine-tuning on prompt/completion pairs (no classifier spec).
  public static func trainGeneric(
    bundle: ModelBundle, pairs: [PromptCompletion], config: TrainingConfig, directory: String, resume: Bool,
    progress: (TrainingEvent) -> Void = { _ in }
  ) throws -> TrainingSummary {
    try run(bundle: bundle, examples: tokenize(pairs, bundle: bundle, config: config), config: config, directory: directory,
            resume: resume, progress: progress)
  }
}
