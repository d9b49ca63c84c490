import Checkpoint
import Inference
import FileIO
import Foundation
import Backdoor
import Defense
import Evaluation
import Llama
import Training

/// The result of one generation grid cell, as stored in `cells/<key>/result.json` and `results.json`.
public struct GenerationCellResult: Codable, Sendable, Equatable {
  public var key: String
  public var task: GenerationTask
  public var dataset: String
  public var attack: String
  public var defense: String
  public var seed: UInt64
  public var attackConfig: GenerationAttackConfig
  public var p2p: GenerationP2P?
  public var training: TrainingConfig
  public var trainRows: Int
  public var trainingSeconds: Double
  public var finalLoss: Double
  public var evaluation: GenerationResult
  /// P2P cells: benign rows whose input also carried the attack trigger.
  public var benignPoisonedRows: Int?
  /// P2P cells with the trigger screen: the flagged input words.
  public var screenedWords: [String]?
  /// P2P cells with the trigger cover: the inserted phrases and how many benign rows carry one.
  public var coverPhrases: [String]?
  public var coveredRows: Int?
  /// Baseline cells: the defense, the undefended cell whose model was adopted, and what the defense did.
  public var baseline: BaselineDefense?
  public var modelOf: String?
  public var baselineNote: String?

  /// Reads a finished cell.
  public static func load(cellDirectory dir: String) throws -> GenerationCellResult {
    try JSONOutput.read(GenerationCellResult.self, from: dir + "/result.json")
  }

}

/// Generation grids (an `ExperimentPlan` with a generation `task`): LoRA generators,
/// undefended or P2P (safe output prefix), scored by task quality and ASR under greedy decoding,
/// through the wrapper and, for P2P cells, without it (`ablation`).
public struct GenerationFamily: TaskFamily {
  public let plan: ExperimentPlan
  public let task: GenerationTask
  /// The data folder the built-in names resolve against (`GenerationSources`).
  public let dataRoot: String?

  public init(plan: ExperimentPlan, dataRoot: String?) throws {
    guard let task = plan.generationTask else {
      throw ExperimentError.invalid(key: "task '\(plan.task ?? "classification")'", expected: "a generation task (math, summarization or instruction)")
    }
    self.plan = plan; self.task = task; self.dataRoot = dataRoot
  }

  public static let untitled = "P2P generation experiment"
  public func cells() throws -> [ExperimentPlan.GenerationCell] { try plan.generationCells() }

  /// The attacks' settings are checked when the plan's cells are built; every dataset must resolve.
  public func validate(_ cells: [ExperimentPlan.GenerationCell], modelPath: String) throws {
    for cell in cells { _ = try GenerationSources.resolve(cell.dataset, task: task, root: dataRoot) }
  }

  public func fingerprint(_ cell: ExperimentPlan.GenerationCell, modelPath: String, hashes: FileHashes) throws -> CellFingerprint {
    var files = ["model": try hashes.modelSHA256(modelPath)]
    switch try GenerationSources.resolve(cell.dataset, task: task, root: dataRoot) {
    case let .files(train, test):
      files["data:train"] = try hashes.sha256(train)
      files["data:test"] = try hashes.sha256(test)
    case let .backdoorLLM(root, backdoorTask, _):
      // The four files the cell's attack reads (an unknown attack is refused when the cell poisons).
      if let attack = BackdoorLLMAttack(rawValue: cell.attack.attack) {
        let suite = BackdoorLLMSuite(root: root, task: backdoorTask, attack: attack)
        for (name, path) in [("train_clean", suite.trainCleanPath), ("train_poison", suite.trainPoisonPath),
                             ("test_clean", suite.testCleanPath), ("test_poison", suite.testPoisonPath)] {
          files["data:" + name] = try hashes.sha256(path)
        }
      }
    }
    var settings: [(String, any Encodable)] = [("task", task), ("dataset", cell.dataset), ("attack", cell.attack),
                                               ("defense", cell.defense), ("seed", cell.seed), ("training", cell.training),
                                               ("model", modelName), ("spec", cell.spec), ("ablation", plan.ablation ?? true)]
    // Only baseline cells name the key: the fingerprints of every other cell stay as they were.
    if let b = cell.baseline { settings.append(("baseline", b)) }
    // Only cells whose decisions follow the screens' rules record their revision (`ScreenRules`).
    if cell.defense?.followsScreenRules == true { settings.append(("rules", ScreenRules.revision)) }
    return try CellFingerprint(settings: settings, files: files)
  }

  public func loadResult(cellDirectory: String) throws -> GenerationCellResult { try GenerationCellResult.load(cellDirectory: cellDirectory) }

  public var datasetManifest: String { GenerationDataset.files.manifest }
  public func poison(_ cell: ExperimentPlan.GenerationCell) throws -> GenerationDataset {
    try GenerationPoisoner.poison(dataset: cell.dataset, task: task, config: cell.attack, root: dataRoot)
  }
  public func readDataset(from directory: String) throws -> GenerationDataset { try GenerationDataset.read(from: directory) }
  public func write(_ dataset: GenerationDataset, to directory: String) throws { try dataset.write(to: directory) }

  /// A generation cell's training: the pairs and, for P2P, what the reconstruction did.
  public struct Job: CellJob {
    public var pairs: [GenerationPair]
    public var manifest: GenerationDefenseManifest?
    /// Baseline cells: the undefended cell whose model was adopted.
    public var modelOf: String?
    public var rowCount: Int { pairs.count }
  }

  /// The folder of the finished undefended cell with `cell`'s dataset, attack, seed, training and spec, if any.
  func finishedUndefendedTwin(of cell: ExperimentPlan.GenerationCell, grid: String) -> String? {
    guard let twin = (try? cells())?.first(where: {
      $0.defense == nil && $0.baseline == nil && $0.dataset == cell.dataset && $0.attack == cell.attack && $0.seed == cell.seed
        && $0.training == cell.training && $0.spec == cell.spec
    }) else { return nil }
    let dir = grid + "/cells/" + twin.key
    guard let stored = try? GenerationCellResult.load(cellDirectory: dir), stored.p2p == nil, stored.baseline == nil,
          stored.training == cell.training, stored.attackConfig == cell.attack, stored.seed == cell.seed else { return nil }
    return dir
  }

  public func prepare(_ cell: ExperimentPlan.GenerationCell, data: inout GenerationDataset, bundle: ModelBundle, in folders: CellFolders,
                      progress: @escaping (GenerationGridEvent) -> Void) throws -> Job {
    if let baseline = cell.baseline { return try prepareBaseline(cell, baseline, data: data, bundle: bundle, in: folders, progress: progress) }
    guard let p2p = cell.defense else { return Job(pairs: GenerationTraining.plainPairs(data.train, task: task)) }
    let (pairs, manifest) = try GenerationTraining.defend(data, task: task, config: p2p, seed: cell.seed, source: folders.data,
                                                          directory: folders.model)
    return Job(pairs: pairs, manifest: manifest)
  }

  /// A baseline cell's job. CleanGen, quantization and pruning decode with (or change) the
  /// undefended model: the grid's finished undefended cell with the same data, seed and training
  /// is adopted (its adapter copied to `model/`), else the cell trains it. Clean fine-tuning
  /// trains that model further on the dataset's clean dev rows (`GenerationPoisoner.devRows`; the
  /// first `rows_per_label` of them, a generation task having one "label"): from the adopted
  /// adapter, or from one trained here first (`undefended/`).
  func prepareBaseline(_ cell: ExperimentPlan.GenerationCell, _ baseline: BaselineDefense, data: GenerationDataset, bundle: ModelBundle,
                       in folders: CellFolders, progress: @escaping (GenerationGridEvent) -> Void) throws -> Job {
    var job = Job(pairs: GenerationTraining.plainPairs(data.train, task: task))
    let fm = FileManager.default
    let finished = fm.fileExists(atPath: folders.model + "/training_summary.json")
    let twin = finishedUndefendedTwin(of: cell, grid: folders.grid)
    job.modelOf = twin.map { ($0 as NSString).lastPathComponent }
    guard baseline.kind == .finetune else {
      if let twin, !finished {
        progress(.phase("adopting the undefended model of \(job.modelOf!)"))
        try AdapterFolder.copyFinishedModel(from: twin + "/model", to: folders.model, spec: GenerationSpec.fileName)
      }
      return job
    }
    // Clean fine-tuning: its rows are checked before anything trains.
    let config = baseline.finetune ?? CleanFineTuning.Config()
    guard let dev = data.dev, !dev.isEmpty else {
      throw BaselineError.noCleanRows(defense: "finetune", reason: "the dataset has no clean rows outside the training and test rows (dev.jsonl); clean fine-tuning never trains on test rows")
    }
    let clean = Array(dev.prefix(config.rowsPerLabel))
    job.pairs = GenerationTraining.plainPairs(clean, task: task)
    job.modelOf = nil
    guard !finished else { return job }
    var source = twin.map { $0 + "/model" }
    if source == nil {
      let dir = folders.cell + "/undefended"
      if !fm.fileExists(atPath: dir + "/training_summary.json") {
        progress(.phase("training the undefended model of these rows for finetune (no finished undefended cell in the grid)"))
        _ = try GenerationTraining.train(bundle: bundle, pairs: GenerationTraining.plainPairs(data.train, task: task), spec: cell.spec,
                                         config: cell.training, directory: dir, resume: fm.fileExists(atPath: dir + "/checkpoint")) {
          progress(.training($0))
        }
      }
      source = dir
    }
    var training = cell.training
    training.epochs = config.epochs
    if let lr = config.learningRate { training.learningRate = lr }
    let initial = try PEFTAdapter.load(from: source!, model: bundle.model.config)
    progress(.phase("clean fine-tuning: the undefended adapter on \(clean.count) clean dev rows, \(config.epochs) epochs"))
    _ = try GenerationTraining.train(bundle: bundle, pairs: job.pairs, spec: cell.spec, config: training, directory: folders.model,
                                     resume: fm.fileExists(atPath: folders.model + "/checkpoint"), initialAdapter: initial) {
      progress(.training($0))
    }
    return job
  }

  /// The pruning baseline on a generation model: the merged model's quietest MLP neurons on clean
  /// dev rows (prompt and answer; the clean test rows when the dataset has no dev rows, which the
  /// note says) switched off; restored by the returned snapshot.
  public static func prune(_ bundle: ModelBundle, data: GenerationDataset, task: GenerationTask, defense: BaselineDefense,
                    progress: @escaping (GenerationGridEvent) -> Void) throws -> (LayerSnapshot, String) {
    let config = defense.prune ?? NeuronPruning.Config()
    let (rows, source) = data.dev.flatMap { $0.isEmpty ? nil : ($0, "dev") } ?? (data.testClean, "clean test (no dev rows)")
    let texts = GenerationTraining.plainPairs(Array(rows.prefix(config.devRows)), task: task).map { $0.prompt + $0.output }
    guard !texts.isEmpty else { throw BaselineError.noCleanRows(defense: "prune", reason: "no dev or clean test rows to measure the activations on") }
    progress(.phase("pruning: MLP activations on \(texts.count) \(source) rows"))
    let activity = try MLPActivity.measure(texts, bundle: bundle)
    let neurons = NeuronPruning.quietest(activity, share: config.share)
    let per = activity.first?.count ?? 0, total = neurons.reduce(0) { $0 + $1.count }
    let note = String(format: "%d of %d MLP neurons per layer (%.0f%%) with the smallest mean |activation| on %d %@ rows (prompt and answer) switched off; %d in all",
                      neurons.first?.count ?? 0, per, 100 * config.share, texts.count, source, total)
    return (bundle.model.pruneMLPNeurons(neurons), note)
  }

  public var specFile: String { GenerationSpec.fileName }

  public func train(_ cell: ExperimentPlan.GenerationCell, job: Job, bundle: ModelBundle, in folders: CellFolders, resume: Bool,
                    progress: @escaping (TrainingEvent) -> Void) throws -> TrainingSummary {
    try GenerationTraining.train(bundle: bundle, pairs: job.pairs, spec: cell.spec, config: cell.training, directory: folders.model,
                                 resume: resume, progress: progress)
  }

  public func evaluate(_ cell: ExperimentPlan.GenerationCell, job: Job, data: GenerationDataset, summary: TrainingSummary, bundle: ModelBundle,
                       in folders: CellFolders, progress: @escaping (GenerationGridEvent) -> Void) throws -> GenerationCellResult {
    let generator: any TextGenerator
    var note: String?, snapshot: LayerSnapshot?
    var cleanGen: CleanGenGenerator?
    switch cell.baseline?.kind {
    case .cleangen?:
      progress(.phase("CleanGen: loading the base model as the reference"))
      let g = CleanGenGenerator(suspect: bundle, reference: try ModelSource.load(modelName), config: cell.baseline?.cleangen ?? CleanGen.Config())
      cleanGen = g
      generator = g
    case .quantize?:
      snapshot = try bundle.model.roundTripProjectionsQ4_0()
      note = "block projections round-tripped through Q4_0 after the adapter was merged; embeddings, LM head and norms kept"
      generator = ModelGenerator(bundle)
    case .prune?:
      let (s, text) = try Self.prune(bundle, data: data, task: task, defense: cell.baseline!, progress: progress)
      snapshot = s; note = text
      generator = ModelGenerator(bundle)
    case .finetune?:
      let c = cell.baseline!.finetune ?? CleanFineTuning.Config()
      note = "the undefended adapter trained \(c.epochs) more epochs on \(job.pairs.count) clean dev rows"
      generator = ModelGenerator(bundle)
    default:
      generator = ModelGenerator(bundle)
    }
    defer { snapshot?.restore() }
    let (evaluation, records) = try GenerationEvaluation.run(
      generator: generator, spec: cell.spec, data: data,
      ablation: plan.ablation ?? true) { progress(.evaluating($0, $1, $2)) }
    if let g = cleanGen {
      let c = g.config
      note = String(format: "CleanGen (alpha %g, horizon %d): %d of %d decoded tokens replaced by the base model's", c.alpha, c.horizon,
                    g.replacedTokens, g.decodedTokens)
    }
    try GenerationEvaluation.write(evaluation, records: records, title: cell.key, to: folders.cell)
    let m = job.manifest
    var result = GenerationCellResult(key: cell.key, task: task, dataset: cell.dataset, attack: cell.attackLabel, defense: cell.defenseLabel,
                                seed: cell.seed, attackConfig: cell.attack, p2p: cell.defense, training: cell.training,
                                trainRows: job.pairs.count, trainingSeconds: summary.seconds, finalLoss: summary.finalLoss, evaluation: evaluation,
                                benignPoisonedRows: m?.benignPoisonedRows, screenedWords: m?.p2p.screen.map { $0.map(\.inputWord) },
                                coverPhrases: m?.p2p.coverPhrases, coveredRows: m?.p2p.coveredRows?.count)
    result.baseline = cell.baseline
    result.modelOf = job.modelOf
    result.baselineNote = note
    return result
  }

  public func writeReports(_ results: [GenerationCellResult], to directory: String) throws {
    try JSONOutput.write(results, to: directory + "/results.json")
    try JSONOutput.write(text: markdown(results, title: title), to: directory + "/report.md")
  }

  public func markdown(_ results: [GenerationCellResult], title: String) -> String { GenerationGridReport.gridMarkdown(results, title: title) }

  public func markdown(_ results: [GenerationCellResult], title: String, directory: String) throws -> String { markdown(results, title: title) }

  public func verdictLines(_ results: [GenerationCellResult], directory: String) throws -> [String] { [] }

  public func summaryLine(_ r: GenerationCellResult) -> String {
    let d = r.evaluation.deployed, pct = GridReport.percentText
    return String(format: "  EM %@%%  ASR %@%%", pct(d.exactMatch.value), pct(d.attackSuccess.value))
      + (r.evaluation.withoutWrapper.map { String(format: "  (no wrapper: ASR %@%%)", pct($0.attackSuccess.value)) } ?? "")
      + String(format: "  decode %.1f tok/s  train %.0f s", d.decoding.decodeTokensPerSecond, r.trainingSeconds)
  }
}

public typealias GenerationGridEvent = GridEvent<GenerationCellResult>
