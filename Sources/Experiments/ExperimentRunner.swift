import Backdoor
import Defense
import Foundation
import Llama
import Training

/// The result of one grid cell, as stored in `cells/<key>/result.json` and `results.json`.
public struct CellResult: Codable, Sendable, Equatable {
  public var key: String
  public var dataset: String
  public var attack: String
  public var defense: String
  public var seed: UInt64
  public var attackConfig: AttackConfig
  public var p2p: P2PConfig?
  public var training: TrainingConfig
  public var trainRows: Int
  /// Training time of the cell's model, summed over resumed runs (`TrainingSummary.seconds`),
  /// counted from step `trainingTimedFromStep` (0: every step; nil: a result of an older build,
  /// whose time covers the last run only).
  public var trainingSeconds: Double
  public var trainingTimedFromStep: Int?
  public var finalLoss: Double
  public var evaluation: ClassificationResult
  /// P2P cells: benign rows whose input also carried the attack trigger (the defender cannot
  /// tell them apart; they teach the backdoor in the safe label space).
  public var benignPoisonedRows: Int?
  /// Trigger-cover cells: the recovered trigger phrases and the benign rows they were inserted into.
  public var coverPhrases: [String]?
  public var coveredRows: Int?
  /// Probe-screen cells: the rows flagged, and the flagged rows put into the safe space with the
  /// next label (and how many of those carried the trigger).
  public var probeFlaggedRows: Int?
  public var flippedRows: Int?
  public var flippedPoisonedRows: Int?
  /// Probe-screen cells: seconds the screen took (its probe is trained separately or adopted).
  public var screeningSeconds: Double?

  public init(key: String, dataset: String, attack: String, defense: String, seed: UInt64, attackConfig: AttackConfig, p2p: P2PConfig?,
              training: TrainingConfig, trainRows: Int, trainingSeconds: Double, finalLoss: Double, evaluation: ClassificationResult) {
    self.key = key; self.dataset = dataset; self.attack = attack; self.defense = defense; self.seed = seed
    self.attackConfig = attackConfig; self.p2p = p2p; self.training = training; self.trainRows = trainRows
    self.trainingSeconds = trainingSeconds; self.finalLoss = finalLoss; self.evaluation = evaluation
  }

  /// The same result with what the P2P manifest says about the benign rows.
  func with(manifest m: P2PManifest?) -> CellResult {
    var r = self
    r.benignPoisonedRows = m?.benignPoisonedRows
    r.coverPhrases = m?.coverPhrases
    r.coveredRows = m?.coveredRows
    r.probeFlaggedRows = m?.probeFlaggedRows
    r.flippedRows = m?.flippedRows?.count
    r.flippedPoisonedRows = m?.flippedPoisonedRows
    return r
  }

  /// Reads a finished cell, filling what older result files lack from the cell's files.
  public static func load(cellDirectory dir: String) throws -> CellResult {
    var r = try JSONOutput.read(CellResult.self, from: dir + "/result.json")
    if r.p2p != nil, r.benignPoisonedRows == nil || (r.p2p?.coverTriggers == true && r.coveredRows == nil),
       let m = try? JSONOutput.read(P2PManifest.self, from: dir + "/model/manifest.json") {
      r = r.with(manifest: m)
    }
    return r
  }
}

/// Runs an experiment grid into a directory, one cell after another, with resume: a cell whose
/// `result.json` exists is skipped, a cell interrupted while training continues from its
/// checkpoint. After every cell `results.json` and the reports are rewritten.
public final class ExperimentRunner {
  public let plan: ExperimentPlan
  public let directory: String
  public let dataRoot: String?

  public init(plan: ExperimentPlan, directory: String, dataRoot: String?) {
    self.plan = plan; self.directory = directory; self.dataRoot = dataRoot
  }

  public func run(progress: @escaping (ExperimentEvent) -> Void = { _ in }) throws -> [CellResult] {
    // Generation plans run with `runGeneration` (GenerationRunner.swift).
    guard plan.generation == nil else { throw ExperimentError.invalid(key: "task", expected: "classification here; use runGeneration") }
    let modelName = plan.model ?? ModelStore.defaultModel
    return try GridLoop.run(cells: try plan.cells(), key: \.key, directory: directory, plan: plan,
                            load: CellResult.load(cellDirectory:),
                            runCell: { try runCell($0, directory: $1, model: modelName, progress: progress) },
                            writeReports: writeReports, progress: progress)
  }

  func runCell(_ cell: ExperimentPlan.Cell, directory dir: String, model: String,
               progress: @escaping (ExperimentEvent) -> Void) throws -> CellResult {
    let fm = FileManager.default
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let dataDir = dir + "/data"
    let data: PoisonedDataset
    if fm.fileExists(atPath: dataDir + "/" + PoisonedDataset.files.manifest) {
      data = try PoisonedDataset.read(from: dataDir)
    } else {
      progress(.phase("poisoning \(cell.dataset) with \(cell.attackLabel)"))
      data = try Poisoner.poison(dataset: cell.dataset, config: cell.attack, root: dataRoot)
      try data.write(to: dataDir)
    }
    let labels = DatasetCatalog.named(cell.dataset)?.labelNames.count ?? max(2, (data.train.map(\.label).max() ?? 1) + 1)
    let modelDir = dir + "/model"
    // Training reads the base weights only; the adapter is merged into them for evaluation.
    let bundle = try ModelBundle.load(model)
    let pairs: [PromptCompletion], spec: ClassifierSpec
    var p2pManifest: P2PManifest?
    var probe: ProbeScreenResult?
    var defense = cell.defense
    if var p2p = cell.defense {
      try fm.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
      var margins: [Float]?
      if p2p.selectsByAgreement {
        p2p = try AgreementScoring.resolve(p2p, labelNames: DatasetCatalog.named(cell.dataset)?.labelNames, bundle: bundle)
        progress(.phase("scoring \(data.train.count) rows zero-shot for benign selection"))
        margins = try AgreementScoring.margins(data.train, config: p2p, bundle: bundle, cachePath: modelDir + "/agreement.json") {
          progress(.evaluating("zero-shot label agreement of the training rows", $0, data.train.count))
        }
        defense = p2p
      }
      if p2p.probeScreen == true {
        if let twin = finishedUndefendedTwin(of: cell) {
          // Only a shortcut: whatever goes wrong here, the probe is trained as usual.
          do {
            if try ProbeScreening.adoptProbe(data.train, config: p2p, trainedModel: twin + "/model",
                                             trainedOn: { try PoisonedDataset.read(from: twin + "/data").train }, directory: modelDir + "/probe") {
              progress(.phase("probe screen: the probe is the finished undefended cell's model (\(twin))"))
            }
          } catch {
            progress(.phase("probe screen: not taking \(twin)'s model as the probe (\(error)); training it"))
          }
        }
        probe = try ProbeScreening.run(data.train, config: p2p, modelName: model, bundle: bundle, training: cell.training,
                                       directory: modelDir + "/probe", progress: progress)
      }
      var (rows, manifest) = try P2PReconstruction.apply(data.train, config: p2p, margins: margins, probe: probe)
      manifest.dataset = dataDir
      try P2PRowsFile.write(rows, to: modelDir + "/train.jsonl")
      try JSONOutput.write(manifest, to: modelDir + "/manifest.json")
      pairs = ClassifierTraining.pairs(rows); spec = .defended(p2p)
      p2pManifest = manifest
    } else {
      let template = P2PConfig(labels: labels).originalPrompt
      pairs = try ClassifierTraining.plainPairs(data.train, template: template); spec = .plain(template)
    }
    let summaryPath = modelDir + "/training_summary.json"
    let summary: TrainingSummary
    if fm.fileExists(atPath: summaryPath) && fm.fileExists(atPath: modelDir + "/" + ClassifierSpec.fileName) {
      summary = try JSONOutput.read(TrainingSummary.self, from: summaryPath)
    } else {
      progress(.phase("training \(pairs.count) rows (\(cell.defenseLabel))"))
      let resume = fm.fileExists(atPath: modelDir + "/checkpoint")
      summary = try ClassifierTraining.train(bundle: bundle, pairs: pairs, spec: spec, config: cell.training, directory: modelDir,
                                             resume: resume) { progress(.training($0)) }
    }
    try PEFTAdapter.load(from: modelDir, model: bundle.model.config).merge(into: bundle.model)
    progress(.phase("evaluating"))
    let evaluation = try ClassificationEvaluation.run(model: bundle.model, tokenizer: bundle.tokenizer, spec: spec, data: data) {
      progress(.evaluating($0, $1, $2))
    }
    try JSONOutput.write(evaluation, to: dir + "/evaluation.json")
    try JSONOutput.write(text: ReportWriter.markdown(evaluation, title: cell.key), to: dir + "/evaluation.md")
    var result = CellResult(key: cell.key, dataset: cell.dataset, attack: cell.attackLabel, defense: cell.defenseLabel, seed: cell.seed,
                            attackConfig: cell.attack, p2p: defense, training: cell.training, trainRows: pairs.count,
                            trainingSeconds: summary.seconds, finalLoss: summary.finalLoss, evaluation: evaluation)
      .with(manifest: p2pManifest)
    result.trainingTimedFromStep = summary.timedFromStep
    result.screeningSeconds = probe?.seconds
    return result
  }

  /// The folder of the finished undefended cell with `cell`'s dataset, attack, seed and training
  /// settings (whose model is the probe a probe-screen cell would train), if the grid has one and
  /// its stored result says it was trained so (a reused output folder may hold an older run).
  func finishedUndefendedTwin(of cell: ExperimentPlan.Cell) -> String? {
    guard let twin = (try? plan.cells())?.first(where: {
      $0.defense == nil && $0.dataset == cell.dataset && $0.attack == cell.attack && $0.seed == cell.seed && $0.training == cell.training
    }) else { return nil }
    let dir = directory + "/cells/" + twin.key
    guard let stored = try? CellResult.load(cellDirectory: dir), stored.p2p == nil, stored.training == cell.training,
          stored.attackConfig == cell.attack, stored.seed == cell.seed, stored.dataset == cell.dataset else { return nil }
    return dir
  }

  /// Rewrites results.json and the reports from the cells finished so far, running nothing.
  public func writeReportsOnly() throws -> [CellResult] {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let results = try plan.cells().compactMap { cell -> CellResult? in
      let dir = directory + "/cells/" + cell.key
      return FileManager.default.fileExists(atPath: dir + "/result.json") ? try CellResult.load(cellDirectory: dir) : nil
    }
    try writeReports(results)
    return results
  }

  func writeReports(_ results: [CellResult]) throws {
    try JSONOutput.write(results, to: directory + "/results.json")
    let title = plan.name ?? "P2P experiment"
    try JSONOutput.write(text: GridReport.markdown(results, title: title), to: directory + "/report.md")
    try JSONOutput.write(text: GridReport.svg(results), to: directory + "/chart.svg")
    try JSONOutput.write(text: GridReport.html(results, title: title), to: directory + "/report.html")
  }
}
