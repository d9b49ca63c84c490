import Backdoor
import Defense
import FileIO
import Foundation
import GGUF
import Llama
import Tokenizer
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
  /// Defended cells: the verdict against the grid's undefended twin (set when reports are written).
  public var verdict: Verdict?
  /// With `selection: best-dev`: the dev scores of each epoch and the chosen one.
  public var selection: SelectionRecord?

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
  /// Re-run finished cells whose settings or inputs changed instead of stopping (`--rerun-changed`).
  public var rerunChanged = false
  let hashes = FileHashes()

  public init(plan: ExperimentPlan, directory: String, dataRoot: String?, rerunChanged: Bool = false) {
    self.plan = plan; self.directory = directory; self.dataRoot = dataRoot; self.rerunChanged = rerunChanged
  }

  public func run(progress: @escaping (ExperimentEvent) -> Void = { _ in }) throws -> [CellResult] {
    // Generation plans run with `runGeneration` (GenerationRunner.swift).
    guard plan.generation == nil else { throw ExperimentError.invalid(key: "task", expected: "classification here; use runGeneration") }
    let modelName = plan.model ?? ModelStore.defaultModel
    let cells = try plan.cells(dataRoot: dataRoot)
    progress(.phase("checking the grid: \(cells.count) cells, model \(modelName)"))
    let modelPath = try validate(cells, model: modelName)
    return try GridLoop.run(cells: cells, key: \.key, directory: directory, plan: plan,
                            fingerprint: { try self.fingerprint($0, model: modelName, modelPath: modelPath) },
                            legacyFingerprint: Self.legacyFingerprint, rerunChanged: rerunChanged,
                            load: CellResult.load(cellDirectory:),
                            runCell: { try runCell($0, directory: $1, model: modelName, progress: progress) },
                            writeReports: writeReports, progress: progress)
  }

  /// Checks the whole grid before the first cell trains: every attack's numbers, every target
  /// against its dataset's labels, the model, and that every label word (original and safe) is
  /// one token of the model's tokenizer. Returns the model's path.
  @discardableResult
  public func validate(_ cells: [ExperimentPlan.Cell], model: String) throws -> String {
    let path: String
    do { path = try ModelStore.resolve(model) } catch { throw ExperimentError.invalid(key: "model '\(model)'", expected: "a model name or GGUF file (\(error))") }
    var labelSets: [String: LabelSet] = [:]
    for cell in cells {
      do { try Poisoner.validate(cell.attack) } catch { throw ExperimentError.badFile(path: "attacks[\(cell.attackLabel)]", reason: "\(error)") }
      let labels: LabelSet
      if let l = labelSets[cell.dataset] { labels = l } else { labels = try DatasetCatalog.labelSet(of: cell.dataset, root: dataRoot); labelSets[cell.dataset] = labels }
      guard cell.attack.target >= 0 && cell.attack.target < labels.count else {
        throw ExperimentError.invalid(key: "attacks[\(cell.attackLabel)].target '\(cell.attack.target)'", expected: "a label of \(cell.dataset) (\(labels.range))")
      }
      _ = try DatasetCatalog.inputFiles(of: cell.dataset, attack: cell.attack.attack, trigger: cell.attack.trigger, root: dataRoot)
    }
    // The tokenizer alone (the weights are not needed to check label words).
    let tokenizer = try BPETokenizer(gguf: GGUFFile(path: path))
    for cell in cells {
      let labels = labelSets[cell.dataset]?.count ?? 2
      let prompts = cell.defense.map { [$0.originalPrompt, $0.benignPrompt] } ?? [P2PConfig(labels: labels).originalPrompt]
      for p in prompts {
        do { _ = try p.labelTokenIDs(tokenizer) } catch {
          throw ExperimentError.invalid(key: "label words of \(cell.key)", expected: "one token each (\(error))")
        }
      }
    }
    return path
  }

  /// The cell's settings and the hashes of its data files and model.
  func fingerprint(_ cell: ExperimentPlan.Cell, model: String, modelPath: String) throws -> CellFingerprint {
    var files = ["model": try hashes.sha256(modelPath)]
    for f in try DatasetCatalog.inputFiles(of: cell.dataset, attack: cell.attack.attack, trigger: cell.attack.trigger, root: dataRoot) {
      files["data:" + ((f as NSString).deletingLastPathComponent as NSString).lastPathComponent + "/" + (f as NSString).lastPathComponent] = try hashes.sha256(f)
    }
    return try CellFingerprint(settings: [("dataset", cell.dataset), ("attack", cell.attack), ("defense", cell.defense), ("seed", cell.seed),
                                          ("training", cell.training), ("model", model), ("selection", cell.selection.rawValue)], files: files)
  }

  /// What a result of an older version (no fingerprint.json) vouches for: its recorded settings.
  static func legacyFingerprint(_ r: CellResult) throws -> CellFingerprint {
    // Agreement cells store the resolved configuration (label names filled in), not the plan's.
    let defense: [(String, any Encodable)] = r.p2p?.selectsByAgreement == true ? [] : [("defense", r.p2p)]
    // Every result written before model selection existed kept the last epoch.
    return try CellFingerprint(settings: [("dataset", r.dataset), ("attack", r.attackConfig), ("seed", r.seed), ("training", r.training),
                                          ("selection", r.selection?.selection.rawValue ?? ModelSelection.last.rawValue)] + defense,
                               files: [:])
  }

  func runCell(_ cell: ExperimentPlan.Cell, directory dir: String, model: String,
               progress: @escaping (ExperimentEvent) -> Void) throws -> CellResult {
    let fm = FileManager.default
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let dataDir = dir + "/data"
    var data: PoisonedDataset
    if fm.fileExists(atPath: dataDir + "/" + PoisonedDataset.files.manifest) {
      data = try PoisonedDataset.read(from: dataDir)
    } else {
      progress(.phase("poisoning \(cell.dataset) with \(cell.attackLabel)"))
      data = try Poisoner.poison(dataset: cell.dataset, config: cell.attack, root: dataRoot)
      try data.write(to: dataDir)
    }
    let labels = try DatasetCatalog.labelSet(of: cell.dataset, root: dataRoot).count
    // best-dev: the dev rows (the dataset's dev file, else rows held out of training).
    let split: DevSplit? = cell.selection == .bestDev ? DevSplit.of(data, seed: cell.seed) : nil
    if let split { data.train = split.train }
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
                                             resume: resume, selection: cell.selection, dev: split) { progress(.training($0)) }
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
    result.selection = try? JSONOutput.read(SelectionRecord.self, from: modelDir + "/" + SelectionRecord.fileName)
    result.screeningSeconds = probe?.seconds
    return result
  }

  /// The folder of the finished undefended cell with `cell`'s dataset, attack, seed and training
  /// settings (whose model is the probe a probe-screen cell would train), if the grid has one and
  /// its stored result says it was trained so (a reused output folder may hold an older run).
  func finishedUndefendedTwin(of cell: ExperimentPlan.Cell) -> String? {
    guard let twin = (try? plan.cells(dataRoot: dataRoot))?.first(where: {
      $0.defense == nil && $0.dataset == cell.dataset && $0.attack == cell.attack && $0.seed == cell.seed && $0.training == cell.training
    }) else { return nil }
    let dir = directory + "/cells/" + twin.key
    guard let stored = try? CellResult.load(cellDirectory: dir), stored.p2p == nil, stored.training == cell.training,
          stored.attackConfig == cell.attack, stored.seed == cell.seed, stored.dataset == cell.dataset else { return nil }
    return dir
  }

  /// Rewrites results.json and the reports from the cells finished so far, running nothing.
  public func writeReportsOnly() throws -> [CellResult] {
    try OutputFolder.check(directory, kind: GridFolder.outputKind, replace: true)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let results = try plan.cells(dataRoot: dataRoot).compactMap { cell -> CellResult? in
      let dir = directory + "/cells/" + cell.key
      return FileManager.default.fileExists(atPath: dir + "/result.json") ? try CellResult.load(cellDirectory: dir) : nil
    }
    try writeReports(results)
    return results
  }

  func writeReports(_ results: [CellResult]) throws {
    try GridReport.write(GridResults(results), title: plan.name ?? "P2P experiment", to: directory)
  }
}
