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
    var files = ["model": try hashes.sha256(modelPath)]
    if case let .files(train, test) = try GenerationSources.resolve(cell.dataset, task: task, root: dataRoot) {
      files["data:train"] = try hashes.sha256(train)
      files["data:test"] = try hashes.sha256(test)
    }
    var settings: [(String, any Encodable)] = [("task", task), ("dataset", cell.dataset), ("attack", cell.attack),
                                               ("defense", cell.defense), ("seed", cell.seed), ("training", cell.training),
                                               ("model", modelName), ("spec", cell.spec), ("ablation", plan.ablation ?? true)]
    // Only baseline cells name the key: the fingerprints of every other cell stay as they were.
    if let b = cell.baseline { settings.append(("baseline", b)) }
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
    if cell.baseline != nil {
      // A baseline decodes with (or changes) the undefended model: adopt the grid's, else train it here.
      var job = Job(pairs: GenerationTraining.plainPairs(data.train, task: task))
      if let twin = finishedUndefendedTwin(of: cell, grid: folders.grid) {
        if !FileManager.default.fileExists(atPath: folders.model + "/training_summary.json") {
          progress(.phase("adopting the undefended model of \((twin as NSString).lastPathComponent)"))
          try AdapterFolder.copyFinishedModel(from: twin + "/model", to: folders.model, spec: GenerationSpec.fileName)
        }
        job.modelOf = (twin as NSString).lastPathComponent
      }
      return job
    }
    guard let p2p = cell.defense else { return Job(pairs: GenerationTraining.plainPairs(data.train, task: task)) }
    let (pairs, manifest) = try GenerationTraining.defend(data, task: task, config: p2p, seed: cell.seed, source: folders.data,
                                                          directory: folders.model)
    return Job(pairs: pairs, manifest: manifest)
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
      let g = CleanGenGenerator(suspect: bundle, reference: try ModelBundle.load(modelName), config: cell.baseline?.cleangen ?? CleanGen.Config())
      cleanGen = g
      generator = g
    case .quantize?:
      snapshot = try bundle.model.roundTripProjectionsQ4_0()
      note = "block projections round-tripped through Q4_0 after the adapter was merged; embeddings, LM head and norms kept"
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

  public func verdictLines(_ results: [GenerationCellResult]) -> [String] { [] }

  public func summaryLine(_ r: GenerationCellResult) -> String {
    let d = r.evaluation.deployed, pct = GridReport.percentText
    return String(format: "  EM %@%%  ASR %@%%", pct(d.exactMatch.value), pct(d.attackSuccess.value))
      + (r.evaluation.withoutWrapper.map { String(format: "  (no wrapper: ASR %@%%)", pct($0.attackSuccess.value)) } ?? "")
      + String(format: "  decode %.1f tok/s  train %.0f s", d.decoding.decodeTokensPerSecond, r.trainingSeconds)
  }
}

public typealias GenerationGridEvent = GridEvent<GenerationCellResult>
