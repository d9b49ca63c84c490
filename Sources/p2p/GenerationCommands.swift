import ArgumentParser
import Backdoor
import Experiments
import FileIO
import Foundation
import Defense
import Evaluation
import Llama
import Training

/// `--task` of poison, train, defend and evaluate: `classification` (the default) or a generation
/// task, which those commands hand to `GenerationCommands`.
enum TaskKind {
  static let help: ArgumentHelp = "classification (default), math (GSM8K, BadChain), summarization (SciTLDR, payload) or instruction (BackdoorLLM)."

  /// nil for classification.
  static func parse(_ s: String) throws -> GenerationTask? {
    if s == "classification" { return nil }
    guard let t = GenerationTask(rawValue: s) else {
      throw ValidationError("--task must be classification, math, summarization or instruction")
    }
    return t
  }
}

/// Generation-only flags of `poison`.
struct GenerationPoisonOptions: ParsableArguments {
  @Option(help: TaskKind.help) var task = "classification"
  @Option(help: "Summarization: the phrase the backdoor appends to the summary.") var payload: String?
  @Option(help: "Math (BadChain): the factor of the backdoor step (default 2.1).") var multiplier: Double?
  @Flag(help: "Instruction: judge ASR with BackdoorLLM's broader keyword list.") var backdoorllmKeywords = false
}

/// Generation-only flags of `train` and `defend`.
struct GenerationTrainOptions: ParsableArguments {
  @Option(help: TaskKind.help) var task = "classification"
  @Option(help: "Generation: most new tokens at evaluation, stored in generator.json (default by task: math 256, summarization 64, instruction 128).")
  var maxNewTokens: Int?
  @Option(help: "Generation P2P (defend): the safe prefix put before the outputs of benign rows and forced at inference.")
  var safePrefix = GenerationP2P.defaultSafePrefix
}

/// Generation-only flags of `evaluate`.
struct GenerationEvaluateOptions: ParsableArguments {
  @Option(help: TaskKind.help) var task = "classification"
  @Option(help: "Generation: most new tokens (default: the adapter's generator.json, else by task).") var maxNewTokens: Int?
  @Flag(help: "Generation P2P: skip the ablation pass without the wrapper.") var noAblation = false
}

/// The generation-task paths of the subcommands (P2P for generation, arXiv 2510.04503 §generation;
/// DESIGN.md §3). Built-in data names resolve against $P2P_SHARED_DATA or the repository's Data/ (GenerationSources).
enum GenerationCommands {
  static func dataRoot() -> String? { GenerationSources.dataRoot(classificationRoot: DatasetCatalog.dataRoot()) }

  static func poison(_ p: Poison, task: GenerationTask) throws {
    guard let attack = p.attack else {
      throw ValidationError("--attack is required for --task \(task.rawValue): \(GenerationAttackConfig.attackNames(for: task).joined(separator: ", "))")
    }
    let config = GenerationAttackConfig(
      attack: attack, rate: p.rate, trigger: p.trigger, payload: p.generation.payload, multiplier: p.generation.multiplier,
      count: p.count, backdoorLLMKeywords: p.generation.backdoorllmKeywords ? true : nil, seed: p.seed,
      trainLimit: p.trainLimit, testLimit: p.testLimit)
    let inputs: [String]
    switch try GenerationSources.resolve(p.data, task: task, root: dataRoot()) {
    case let .files(train, test): inputs = [train, test]
    case let .backdoorLLM(root, _, _): inputs = [root]
    }
    try OutputFolder.check(p.out, kind: DatasetDirectory.outputKind, inputs: inputs, replace: p.overwrite)
    let ds = try GenerationPoisoner.poison(dataset: p.data, task: task, config: config, root: dataRoot())
    try ds.write(to: p.out, replace: p.overwrite, inputs: inputs)
    let m = ds.manifest
    print("poisoned \(m.poisonedRows.count) of \(ds.train.count) training rows (\(m.attack), rate \(p.rate), trigger \(m.trigger), target \(m.target)); "
      + "\(ds.testClean.count) clean and \(ds.testPoison.count) triggered test rows; written to \(p.out)")
  }

  /// Plain training on a `poison --task` directory, or P2P training on a `defend --prepare-only` one.
  static func train(_ t: Train, task: GenerationTask) throws {
    guard try t.training.selection == .last else { throw ValidationError("--select best-dev is for classification; generation keeps the last epoch") }
    let (pairs, spec, describe) = try trainingJob(data: t.data, task: task, maxNewTokens: t.generation.maxNewTokens)
    let config = try t.training.config(defaultBatch: 8, defaultMaxLength: GenerationPlan.defaultMaxLength(for: task))
    let bundle = try t.modelOptions.load()
    printError(describe)
    let summary = try GenerationTraining.train(bundle: bundle, pairs: pairs, spec: spec, config: config, directory: t.out,
                                               resume: t.training.resume, progress: t.training.reporter())
    print(String(format: "trained %d steps in %.1f s, final loss %.4f; adapter and generator.json written to %@", summary.steps,
                 summary.seconds, summary.finalLoss, t.out))
  }

  static func trainingJob(data: String, task: GenerationTask, maxNewTokens: Int?) throws -> ([GenerationPair], GenerationSpec, String) {
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

  static func defend(_ d: Defend, task: GenerationTask) throws {
    guard try d.training.selection == .last else { throw ValidationError("--select best-dev is for classification; generation keeps the last epoch") }
    let ds = try GenerationDataset.read(from: d.data)
    guard ds.manifest.task == task else { throw CLIError("\(d.data) is a \(ds.manifest.task.rawValue) dataset, not \(task.rawValue)") }
    guard let mode = GenerationP2P.Mode(rawValue: d.mode) else { throw ValidationError("--mode must be union or replace") }
    let config = GenerationP2P(benignTrigger: d.benignTrigger, ratio: d.ratio, mode: mode, safePrefix: d.generation.safePrefix,
                               screenTriggers: try d.stages.screen, coverTriggers: try d.stages.cover)
    let (pairs, manifest) = try GenerationTraining.p2pPairs(ds.train, task: task, config: config, seed: d.training.seed)
    let benignPoisoned = pairs.filter { $0.benign && $0.poisoned }.count
    try FileManager.default.createDirectory(atPath: d.out, withIntermediateDirectories: true)
    try GenerationPairsFile.write(pairs, to: d.out + "/train.jsonl")
    try JSONOutput.write(GenerationDefenseManifest(task: task, p2p: manifest, poisoning: ds.manifest, dataset: d.data, benignPoisonedRows: benignPoisoned),
                         to: d.out + "/manifest.json")
    if let flags = manifest.screen {
      let words = flags.map { "\($0.inputWord) (-> \($0.outputWord) in \(Int(($0.share * 100).rounded()))% of its \($0.rows) rows)" }
      printError("trigger screen: \(words.isEmpty ? "no suspicious words" : words.joined(separator: ", ")) "
        + "(\(manifest.screenedRows ?? 0) rows kept out of the benign candidates)")
    }
    if let phrases = manifest.coverPhrases {
      printError("trigger cover: \(manifest.coveredRows?.count ?? 0) benign rows carry one of "
        + (phrases.isEmpty ? "(nothing flagged)" : phrases.map { "'\($0)'" }.joined(separator: ", ")))
    }
    printError("P2P for \(task.rawValue) (\(mode.rawValue), rho \(config.ratio)): \(manifest.trainRows) rows -> \(manifest.outputRows) "
      + "(\(manifest.benignRows.count) benign, \(benignPoisoned) of them carry the attack trigger); safe prefix \"\(config.safePrefix)\"")
    if d.prepareOnly {
      print("wrote \(d.out)/train.jsonl and \(d.out)/manifest.json")
      return
    }
    let bundle = try d.modelOptions.load()
    let summary = try GenerationTraining.train(
      bundle: bundle, pairs: pairs, spec: .defended(task, config, maxNewTokens: d.generation.maxNewTokens),
      config: try d.training.config(defaultBatch: 8, defaultMaxLength: GenerationPlan.defaultMaxLength(for: task)), directory: d.out,
      resume: d.training.resume, progress: d.training.reporter())
    print(String(format: "trained %d steps in %.1f s, final loss %.4f; defended adapter written to %@", summary.steps, summary.seconds,
                 summary.finalLoss, d.out))
  }

  static func evaluate(_ e: Evaluate, task: GenerationTask) throws {
    let ds = try GenerationDataset.read(from: e.data)
    var spec = try e.adapter.flatMap { try GenerationSpec.forAdapter($0) } ?? .plain(task)
    guard spec.task == task else { throw CLIError("the adapter's generator.json is for \(spec.task.rawValue), not --task \(task.rawValue)") }
    if let m = e.generation.maxNewTokens { spec.maxNewTokens = m }
    let bundle = try e.modelOptions.load()
    if let adapter = e.adapter {
      do { try PEFTAdapter.load(from: adapter, model: bundle.model.config).merge(into: bundle.model) } catch {
        throw CLIError("cannot load the adapter in '\(adapter)': \(error)")
      }
    }
    let bar = ProgressLine(enabled: !e.quiet)
    let (result, records) = try GenerationEvaluation.run(
      model: bundle.model, tokenizer: bundle.tokenizer, stopTokens: bundle.stopTokens, spec: spec, data: ds,
      ablation: !e.generation.noAblation) { what, done, total in bar.update("\(what): \(done)/\(total)") }
    bar.finishLine()
    let dir = e.out ?? e.adapter ?? FileManager.default.currentDirectoryPath
    let title = "Evaluation of \(e.adapter ?? "the base model (zero-shot)") on \(e.data)"
    try GenerationEvaluation.write(result, records: records, title: title, to: dir)
    print(GenerationReport.markdown(result, title: title))
    printError("wrote \(dir)/evaluation.json, \(dir)/evaluation.md and \(dir)/generations.jsonl")
  }

  static func run(_ plan: ExperimentPlan, name: String, directory dir: String, quiet: Bool, rerunChanged: Bool) throws {
    guard let generation = plan.generation else { return }
    let cells = try generation.cells()
    printError("experiment \(name) (\(generation.task.rawValue)): \(cells.count) cells -> \(dir)")
    let start = Date()
    let runner = ExperimentRunner(plan: plan, directory: dir, dataRoot: DatasetCatalog.dataRoot(), rerunChanged: rerunChanged)
    let render = GridProgress<GenerationCellResult>(quiet: quiet, verb: "generating") { r in
      let d = r.evaluation.deployed
      return String(format: "  EM %@%%  ASR %@%%", GridReportText.pct(d.exactMatch.value), GridReportText.pct(d.attackSuccess.value))
        + (r.evaluation.withoutWrapper.map { String(format: "  (no wrapper: ASR %@%%)", GridReportText.pct($0.attackSuccess.value)) } ?? "")
        + String(format: "  decode %.1f tok/s  train %.0f s", d.decoding.decodeTokensPerSecond, r.trainingSeconds)
    }
    defer { render.finish() }
    let results = try runner.runGeneration(progress: render.handle)
    render.finish()
    print(GenerationReport.gridMarkdown(results, title: name))
    printError("done in \(ProgressLine.duration(Date().timeIntervalSince(start))); report: \(dir)/report.md, results: \(dir)/results.json")
  }
}
