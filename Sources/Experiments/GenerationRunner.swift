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

  /// Reads a finished cell, filling what older result files lack from the cell's manifest.
  public static func load(cellDirectory dir: String) throws -> GenerationCellResult {
    var r = try JSONOutput.read(GenerationCellResult.self, from: dir + "/result.json")
    if r.p2p != nil, r.benignPoisonedRows == nil,
       let m = try? JSONOutput.read(GenerationDefenseManifest.self, from: dir + "/model/manifest.json") {
      r.benignPoisonedRows = m.benignPoisonedRows
      r.screenedWords = m.p2p.screen.map { $0.map(\.inputWord) }
    }
    return r
  }
}

/// Runs a generation grid into a directory, one cell after another, with the resume rules of
/// `ExperimentRunner`: a cell whose `result.json` exists is skipped; poisoned data and a
/// finished training are reused; an interrupted training continues from its checkpoint. After
/// every cell `results.json` and `report.md` are rewritten. Cell files: `data/` (the poisoned
/// dataset), `model/` (adapter, `generator.json`, for P2P `train.jsonl` + `manifest.json`),
/// `evaluation.json`, `evaluation.md`, `generations.jsonl`, `result.json`.
public final class GenerationRunner {
  public let plan: GenerationPlan
  public let directory: String
  /// The shared data folder the built-in names resolve against (`GenerationSources`).
  public let dataRoot: String?

  /// Re-run finished cells whose settings or inputs changed instead of stopping (`--rerun-changed`).
  public var rerunChanged = false

  public init(plan: GenerationPlan, directory: String, dataRoot: String?, rerunChanged: Bool = false) {
    self.plan = plan; self.directory = directory; self.dataRoot = dataRoot; self.rerunChanged = rerunChanged
  }

  public func run(progress: @escaping (GenerationGridEvent) -> Void = { _ in }) throws -> [GenerationCellResult] {
    let modelName = plan.model ?? ModelStore.defaultModel
    let modelPath: String
    do { modelPath = try ModelStore.resolve(modelName) } catch {
      throw ExperimentError.invalid(key: "model '\(modelName)'", expected: "a model name or GGUF file (\(error))")
    }
    let hashes = FileHashes()
    return try GridLoop.run(cells: try plan.cells(), key: \.key, directory: directory, plan: plan,
                            fingerprint: { cell in
                              var files = ["model": try hashes.sha256(modelPath)]
                              if case let .files(train, test) = try GenerationSources.resolve(cell.dataset, task: self.plan.task, root: self.dataRoot) {
                                files["data:train"] = try hashes.sha256(train)
                                files["data:test"] = try hashes.sha256(test)
                              }
                              return try CellFingerprint(settings: [("task", self.plan.task), ("dataset", cell.dataset), ("attack", cell.attack),
                                                                    ("defense", cell.defense), ("seed", cell.seed), ("training", cell.training),
                                                                    ("model", modelName), ("spec", cell.spec),
                                                                    ("ablation", self.plan.ablation ?? true)], files: files)
                            },
                            legacyFingerprint: { r in
                              try CellFingerprint(settings: [("task", r.task), ("dataset", r.dataset), ("attack", r.attackConfig), ("defense", r.p2p),
                                                             ("seed", r.seed), ("training", r.training)], files: [:])
                            },
                            rerunChanged: rerunChanged,
                            load: { try GenerationCellResult.load(cellDirectory: $0) },
                            runCell: { try runCell($0, directory: $1, model: modelName, progress: progress) },
                            writeReports: writeReports, progress: progress)
  }

  func runCell(_ cell: GenerationPlan.Cell, directory dir: String, model: String,
               progress: @escaping (GenerationGridEvent) -> Void) throws -> GenerationCellResult {
    let fm = FileManager.default
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let dataDir = dir + "/data"
    let data: GenerationDataset
    if fm.fileExists(atPath: dataDir + "/" + GenerationDataset.files.manifest) {
      data = try GenerationDataset.read(from: dataDir)
    } else {
      progress(.phase("poisoning \(cell.dataset) with \(cell.attackLabel)"))
      data = try GenerationPoisoner.poison(dataset: cell.dataset, task: plan.task, config: cell.attack, root: dataRoot)
      try data.write(to: dataDir)
    }
    let modelDir = dir + "/model"
    let pairs: [GenerationPair]
    var defenseManifest: GenerationDefenseManifest?
    if let p2p = cell.defense {
      let (rows, manifest) = try GenerationTraining.p2pPairs(data.train, task: plan.task, config: p2p, seed: cell.seed)
      try fm.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
      try GenerationPairsFile.write(rows, to: modelDir + "/train.jsonl")
      let m = GenerationDefenseManifest(task: plan.task, p2p: manifest, poisoning: data.manifest, dataset: dataDir,
                                        benignPoisonedRows: rows.filter { $0.benign && $0.poisoned }.count)
      try JSONOutput.write(m, to: modelDir + "/manifest.json")
      defenseManifest = m
      pairs = rows
    } else {
      pairs = GenerationTraining.plainPairs(data.train, task: plan.task)
    }
    // Training reads the base weights only; the adapter is merged into them for evaluation.
    let bundle = try ModelBundle.load(model)
    let summaryPath = modelDir + "/training_summary.json"
    let summary: TrainingSummary
    if fm.fileExists(atPath: summaryPath) && fm.fileExists(atPath: modelDir + "/" + GenerationSpec.fileName) {
      summary = try JSONOutput.read(TrainingSummary.self, from: summaryPath)
    } else {
      progress(.phase("training \(pairs.count) rows (\(cell.defenseLabel))"))
      let resume = fm.fileExists(atPath: modelDir + "/checkpoint")
      summary = try GenerationTraining.train(bundle: bundle, pairs: pairs, spec: cell.spec, config: cell.training, directory: modelDir,
                                             resume: resume) { progress(.training($0)) }
    }
    try PEFTAdapter.load(from: modelDir, model: bundle.model.config).merge(into: bundle.model)
    progress(.phase("evaluating"))
    let (evaluation, records) = try GenerationEvaluation.run(
      model: bundle.model, tokenizer: bundle.tokenizer, stopTokens: bundle.stopTokens, spec: cell.spec, data: data,
      ablation: plan.ablation ?? true) { progress(.evaluating($0, $1, $2)) }
    try GenerationEvaluation.write(evaluation, records: records, title: cell.key, to: dir)
    return GenerationCellResult(key: cell.key, task: plan.task, dataset: cell.dataset, attack: cell.attackLabel, defense: cell.defenseLabel,
                                seed: cell.seed, attackConfig: cell.attack, p2p: cell.defense, training: cell.training,
                                trainRows: pairs.count, trainingSeconds: summary.seconds, finalLoss: summary.finalLoss, evaluation: evaluation,
                                benignPoisonedRows: defenseManifest?.benignPoisonedRows,
                                screenedWords: defenseManifest?.p2p.screen.map { $0.map(\.inputWord) },
                                coverPhrases: defenseManifest?.p2p.coverPhrases, coveredRows: defenseManifest?.p2p.coveredRows?.count)
  }

  func writeReports(_ results: [GenerationCellResult]) throws {
    try JSONOutput.write(results, to: directory + "/results.json")
    try JSONOutput.write(text: GenerationReport.gridMarkdown(results, title: plan.name ?? "P2P generation experiment"),
                         to: directory + "/report.md")
  }
}

extension ExperimentRunner {
  /// Runs a generation plan (`plan.generation`, from a YAML file with a generation `task:`)
  /// with `GenerationRunner`; the generation data resolve against `GenerationSources.dataRoot`.
  public func runGeneration(progress: @escaping (GenerationGridEvent) -> Void = { _ in }) throws -> [GenerationCellResult] {
    guard let generation = plan.generation else {
      throw ExperimentError.invalid(key: "task", expected: "a generation task (math, summarization, instruction) for runGeneration")
    }
    return try GenerationRunner(plan: generation, directory: directory,
                                dataRoot: GenerationSources.dataRoot(classificationRoot: dataRoot), rerunChanged: rerunChanged).run(progress: progress)
  }
}
