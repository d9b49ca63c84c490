import Checkpoint
import Inference
import Evaluation
import Backdoor
import Defense
import FileIO
import Foundation
import GGUF
import Llama
import TensorCore
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
  /// Baseline-defense cells: the defense (its record is in `evaluation.baseline`).
  public var baseline: BaselineDefense?
  /// Cells that evaluate the model of another cell (a baseline on the undefended model): its key.
  /// Its training time is that cell's and is not counted again.
  public var modelOf: String?
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
  /// `p2p-confirm` cells: flagged rows passed over because their text reads as their own label.
  public var unconfirmedFlips: Int?
  /// Spectral-screen cells: each label's share of the training rows, the reference shares, and their source.
  public var labelShares: [Double]?
  public var referenceShares: [Double]?
  public var referenceSource: String?
  /// Probe-screen cells: seconds the screen took (its probe is trained separately or adopted).
  public var screeningSeconds: Double?
  /// Defended cells: the verdict against the grid's undefended twin (set when reports are written).
  public var verdict: Verdict?
  /// The model the cell ran on, as the experiment named it (nil in results of older builds).
  public var model: String?
  /// With `selection: best-dev`: the dev scores of each epoch and the chosen one.
  public var selection: SelectionRecord?
  /// P2P cells: the safe-space check, which judges no answer against a gold label
  /// (`SafeSpaceCheck`; nil in results of older builds).
  public var safeSpaceCheck: SafeSpaceCheck?
  /// Screening cells: the screens' rules revision their decisions were made by (`ScreenRules`; nil
  /// for other cells and in results of older builds).
  public var rulesRevision: Int?
  /// Default-pipeline cells whose first try failed the safe-space check: the second try
  /// (`SafeSpaceRetry`), which try the result is, and the other's figures (nil: no second try).
  public var retry: RetryRecord?

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
    r.unconfirmedFlips = m?.unconfirmedFlips
    r.labelShares = m?.labelShares
    r.referenceShares = m?.referenceShares
    r.referenceSource = m?.referenceSource
    r.rulesRevision = m?.rulesRevision
    return r
  }

  /// Reads a finished cell.
  public static func load(cellDirectory dir: String) throws -> CellResult { try JSONOutput.read(CellResult.self, from: dir + "/result.json") }

}

/// Classification grids (`ExperimentPlan`): prompt-based classifiers, undefended or P2P, scored
/// by accuracy, macro-F1 and ASR through the deployed path.
public struct ClassificationFamily: TaskFamily {
  public let plan: ExperimentPlan
  public let dataRoot: String?

  public init(plan: ExperimentPlan, dataRoot: String?) { self.plan = plan; self.dataRoot = dataRoot }

  public static let untitled = "P2P experiment"
  public func cells() throws -> [ExperimentPlan.Cell] {
    guard plan.generationTask == nil else { throw ExperimentError.invalid(key: "task", expected: "classification here (a generation plan runs with GenerationFamily)") }
    return try plan.cells(dataRoot: dataRoot)
  }

  /// Every attack's numbers, every target against its dataset's labels, and that every label
  /// word (original and safe) is one token of the model's tokenizer.
  public func validate(_ cells: [ExperimentPlan.Cell], modelPath: String) throws {
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
    let tokenizer = try ModelSource.tokenizer(modelPath)
    for cell in cells {
      for p in cell.prompts {
        do { _ = try p.labelTokenIDs { tokenizer.encode($0) } } catch {
          throw ExperimentError.invalid(key: "label words of \(cell.key)", expected: "one token each (\(error))")
        }
      }
    }
  }

  public func fingerprint(_ cell: ExperimentPlan.Cell, modelPath: String, hashes: FileHashes) throws -> CellFingerprint {
    var files = ["model": try hashes.modelSHA256(modelPath)]
    for f in try DatasetCatalog.inputFiles(of: cell.dataset, attack: cell.attack.attack, trigger: cell.attack.trigger, root: dataRoot) {
      files["data:" + ((f as NSString).deletingLastPathComponent as NSString).lastPathComponent + "/" + (f as NSString).lastPathComponent] = try hashes.sha256(f)
    }
    var settings: [(String, any Encodable)] = [("dataset", cell.dataset), ("attack", cell.attack), ("defense", cell.defense), ("seed", cell.seed),
                                               ("training", cell.training), ("model", modelName), ("selection", cell.selection.rawValue)]
    // Only baseline cells name the key: the fingerprints of every other cell stay as they were.
    if let b = cell.baseline { settings.append(("baseline", b)) }
    // Only cells whose decisions follow the screens' rules record their revision (`ScreenRules`).
    if cell.defense?.followsScreenRules == true { settings.append(("rules", ScreenRules.revision)) }
    return try CellFingerprint(settings: settings, files: files)
  }

  public func loadResult(cellDirectory: String) throws -> CellResult { try CellResult.load(cellDirectory: cellDirectory) }

  public var datasetManifest: String { PoisonedDataset.files.manifest }
  public func poison(_ cell: ExperimentPlan.Cell) throws -> PoisonedDataset { try Poisoner.poison(dataset: cell.dataset, config: cell.attack, root: dataRoot) }
  public func readDataset(from directory: String) throws -> PoisonedDataset { try PoisonedDataset.read(from: directory) }
  public func write(_ dataset: PoisonedDataset, to directory: String) throws { try dataset.write(to: directory) }

  /// A classification cell's training: the pairs, the spec, and what the defense did.
  public struct Job: CellJob {
    public var pairs: [PromptCompletion]
    public var spec: ClassifierSpec
    /// The defense as run (agreement selection fills in its prompt).
    public var defense: P2PConfig?
    public var manifest: P2PManifest?
    public var probe: ProbeScreenResult?
    /// With `selection: best-dev`: the dev rows.
    public var split: DevSplit?
    /// Baseline cells: ONION's suspicion scores (base model), and the cell whose model was adopted.
    public var onionScores: OnionScores?
    public var modelOf: String?
    /// Training-time filters: what was removed.
    public var filter: FilterRecord?
    public var rowCount: Int { pairs.count }
  }

  public func prepare(_ cell: ExperimentPlan.Cell, data: inout PoisonedDataset, bundle: ModelBundle, in folders: CellFolders,
                      progress: @escaping (ExperimentEvent) -> Void) throws -> Job {
    // best-dev: the dev rows (the dataset's dev file, else rows held out of training).
    let split: DevSplit? = cell.selection == .bestDev ? DevSplit.of(data, seed: cell.seed) : nil
    if let split { data.train = split.train }
    if let baseline = cell.baseline {
      return try prepareBaseline(cell, baseline, data: data, bundle: bundle, in: folders, split: split, progress: progress)
    }
    guard let p2p = cell.defense else {
      let template = P2PConfig(labels: cell.labels).originalPrompt
      return Job(pairs: try ClassifierTraining.plainPairs(data.train, template: template), spec: .plain(template), split: split)
    }
    let twin = finishedUndefendedTwin(of: cell, grid: folders.grid)
    let run = try Defender(config: p2p, labelNames: DatasetCatalog.named(cell.dataset)?.labelNames, modelName: modelName,
                           training: cell.training, directory: folders.model, undefendedTwin: twin,
                           reference: try Defender.reference(dev: data.dev, test: data.testClean, labels: cell.labels),
                           firstTry: folders.firstTry)
      .run(data.train, model: { bundle }, source: folders.data, progress: progress)
    return Job(pairs: ClassifierTraining.pairs(run.rows), spec: .defended(run.config), defense: run.config, manifest: run.manifest,
               probe: run.probe, split: split)
  }

  public var specFile: String { ClassifierSpec.fileName }

  /// The quantization baseline: the merged model's block projections round-tripped through Q4_0
  /// for the evaluation, then put back.
  public static func quantized(_ bundle: ModelBundle, spec: ClassifierSpec, data: PoisonedDataset, defense: BaselineDefense,
                        progress: @escaping (String, Int, Int) -> Void) throws -> ClassificationResult {
    let snapshot = try bundle.model.roundTripProjectionsQ4_0()
    defer { snapshot.restore() }
    var r = try ClassificationEvaluation.run(scorer: PromptScorer(bundle), spec: spec, data: data, progress: progress)
    r.baseline = BaselineRecord(defense: defense, threshold: nil,
                                thresholdSource: "block projections round-tripped through Q4_0 after the adapter was merged; embeddings, LM head and norms kept",
                                devRows: 0, devSource: "none")
    return r
  }

  /// The pruning baseline: the merged model's quietest MLP neurons on clean dev rows switched off
  /// for the evaluation, then switched on again.
  public static func pruned(_ bundle: ModelBundle, spec: ClassifierSpec, data: PoisonedDataset, defense: BaselineDefense,
                            progress: @escaping (String, Int, Int) -> Void) throws -> ClassificationResult {
    let config = defense.prune ?? NeuronPruning.Config()
    guard spec.kind == .plain, let template = spec.template else {
      throw ExperimentError.invalid(key: "classifier", expected: "an undefended (plain) classifier behind a baseline defense")
    }
    let dev = BaselineEvaluation.devRows(data, limit: config.devRows)
    guard !dev.rows.isEmpty else { throw BaselineError.noCleanRows(defense: "prune", reason: "no dev or clean test rows to measure the activations on") }
    let prompts = dev.rows.map { template.prompt(for: $0.text) }
    let activity = try MLPActivity.measure(prompts, bundle: bundle) { progress("pruning: activations on dev rows", $0, prompts.count) }
    let neurons = NeuronPruning.quietest(activity, share: config.share)
    let snapshot = bundle.model.pruneMLPNeurons(neurons)
    defer { snapshot.restore() }
    var r = try ClassificationEvaluation.run(scorer: PromptScorer(bundle), spec: spec, data: data, progress: progress)
    let total = neurons.reduce(0) { $0 + $1.count }, per = activity.first?.count ?? 0
    r.baseline = BaselineRecord(defense: defense, threshold: nil,
                                thresholdSource: String(format: "%d of %d MLP neurons per layer (%.0f%%) with the smallest mean |activation| on %d %@ rows switched off; %d in all",
                                                        neurons.first?.count ?? 0, per, 100 * config.share, dev.rows.count, dev.source, total),
                                devRows: dev.rows.count, devSource: dev.source)
    return r
  }

  /// A baseline cell's job. Every baseline starts from the undefended model of the cell's rows:
  /// the grid's finished undefended cell with the same data, seed and training, else one trained
  /// here (`undefended/`). Inference-time and post-training baselines adopt it (copied to
  /// `model/`, not trained again); a training-time filter reads it, removes rows and the cell
  /// trains on the rest. ONION's perplexities come from the base model before any merge.
  func prepareBaseline(_ cell: ExperimentPlan.Cell, _ baseline: BaselineDefense, data: PoisonedDataset, bundle: ModelBundle,
                       in folders: CellFolders, split: DevSplit?, progress: @escaping (ExperimentEvent) -> Void) throws -> Job {
    let template = P2PConfig(labels: cell.labels).originalPrompt
    var job = Job(pairs: try ClassifierTraining.plainPairs(data.train, template: template), spec: .plain(template), split: split)
    let fm = FileManager.default
    let finished = fm.fileExists(atPath: folders.model + "/training_summary.json")
    // The undefended model is needed unless this cell's own model is already there (an
    // inference-time baseline that adopted it, or a filter whose retraining finished).
    // Clean fine-tuning needs clean dev rows: checked before any training.
    let cleanRows = baseline.kind == .finetune
      ? try CleanFineTuning.rows(dev: data.dev, labels: cell.labels, perLabel: (baseline.finetune ?? CleanFineTuning.Config()).rowsPerLabel) : []
    var undefended: String?
    if let twin = finishedUndefendedTwin(of: cell, grid: folders.grid) {
      undefended = twin + "/model"
      job.modelOf = (twin as NSString).lastPathComponent
    } else if !finished || baseline.kind.phase == .training {
      let dir = folders.cell + "/undefended"
      if !fm.fileExists(atPath: dir + "/training_summary.json") {
        progress(.phase("training the undefended model of these rows for \(baseline.name) (no finished undefended cell in the grid)"))
        _ = try ClassifierTraining.train(bundle: bundle, pairs: job.pairs, spec: job.spec, config: cell.training, directory: dir,
                                         resume: fm.fileExists(atPath: dir + "/checkpoint"), selection: cell.selection, dev: split) {
          progress(.training($0))
        }
      }
      undefended = dir
    }
    switch baseline.kind.phase {
    case .postTraining where baseline.kind == .finetune:
      // The cell's own model: the undefended adapter trained further on clean dev rows.
      let config = baseline.finetune ?? CleanFineTuning.Config()
      let clean = cleanRows
      job.pairs = try ClassifierTraining.plainPairs(clean, template: template)
      job.modelOf = nil
      if !finished, let source = undefended {
        var training = cell.training
        training.epochs = config.epochs
        if let lr = config.learningRate { training.learningRate = lr }
        let initial = try PEFTAdapter.load(from: source, model: bundle.model.config)
        progress(.phase("clean fine-tuning: the undefended adapter on \(clean.count) clean dev rows, \(config.epochs) epochs"))
        _ = try ClassifierTraining.train(bundle: bundle, pairs: job.pairs, spec: job.spec, config: training, directory: folders.model,
                                         resume: fm.fileExists(atPath: folders.model + "/checkpoint"), initialAdapter: initial) {
          progress(.training($0))
        }
      }
    case .inference, .postTraining:
      if !finished, let source = undefended {
        progress(.phase("adopting the undefended model \(job.modelOf ?? "of these rows")"))
        try AdapterFolder.copyFinishedModel(from: source, to: folders.model)
      }
    case .training:
      job.modelOf = nil  // the cell trains its own model on the rows the filter keeps
      let filter = baseline.kind == .cube
        ? try cubeFilter(data.train, baseline: baseline, template: template, undefended: undefended!, bundle: bundle, folders: folders,
                         progress: progress)
        : try bkiFilter(data.train, baseline: baseline, template: template, undefended: undefended!, bundle: bundle,
                        folders: folders, progress: progress)
      job.filter = filter.record
      job.pairs = try ClassifierTraining.plainPairs(zip(data.train, filter.removed).filter { !$0.1 }.map(\.0), template: template)
    }
    if baseline.kind == .onion {
      let path = folders.cell + "/" + OnionScores.fileName
      if let stored = try? JSONOutput.read(OnionScores.self, from: path) { job.onionScores = stored } else {
        let dev = BaselineEvaluation.devRows(data, limit: (baseline.onion ?? Onion.Config()).devRows).rows
        let texts = dev.map(\.text) + data.testClean.map(\.text) + data.testPoison.map(\.text)
        progress(.phase("ONION: perplexities of \(texts.count) inputs with each word left out (base model)"))
        let scores = try OnionScoring.scores(texts, bundle: bundle) { progress(.evaluating("ONION perplexities", $0, $1)) }
        try JSONOutput.write(scores, to: path)
        job.onionScores = scores
      }
    }
    return job
  }

  /// CUBE's clusters and the rows it removes, from the undefended model's answer states (merged for
  /// the reading, then taken out); kept in the cell (`cube.json`) for a resumed run.
  func cubeFilter(_ train: [Example], baseline: BaselineDefense, template: PromptTemplate, undefended: String, bundle: ModelBundle,
                  folders: CellFolders, progress: @escaping (ExperimentEvent) -> Void) throws -> (removed: [Bool], record: FilterRecord) {
    let path = folders.cell + "/cube.json"
    let config = baseline.cube ?? CUBE.Config()
    guard train.count <= CUBE.maxRows else {
      throw BaselineError.invalidSetting(key: "cube", value: "\(train.count) training rows",
                                         expected: "at most \(CUBE.maxRows) (HDBSCAN here keeps all pairwise distances in memory); use train_limit")
    }
    let clusters: [Int]
    if let stored = try? JSONOutput.read([Int].self, from: path), stored.count == train.count { clusters = stored } else {
      let labelIDs = try template.labelTokenIDs { bundle.tokenizer.encode($0) }
      let states: [[Float]]
      do {
        let merged = try PEFTAdapter.load(from: undefended, model: bundle.model.config).merge(into: bundle.model)
        defer { merged.restore() }
        progress(.phase("CUBE: the undefended model's states of \(train.count) training rows"))
        states = try ProbeScreening.answerStates(train.map { template.prompt(for: $0.text) }, bundle: bundle, labelIDs: labelIDs) {
          progress(.evaluating("CUBE rows", $0, train.count))
        }.features
      }
      var rng = SeededRNG(seed: baseline.seed ^ 0xC0BE)
      let reduced = ActivationClustering.project(states, components: config.components, using: &rng)
      if let bad = reduced.firstIndex(where: { !$0.allSatisfy(\.isFinite) }) {
        throw BaselineError.invalidSetting(key: "cube", value: "training row \(bad + 1)",
                                           expected: "finite states of the undefended model (this row's are NaN or infinite)")
      }
      clusters = HDBSCAN.fit(reduced.map { $0.map(Double.init) }, minClusterSize: config.minClusterSize,
                             minSamples: CUBE.minSamples(config, rows: train.count))
      try JSONOutput.write(clusters, to: path)
    }
    let removed = CUBE.dropped(labels: train.map(\.label), clusters: clusters)
    let count = Set(clusters.filter { $0 >= 0 }).count, used = CUBE.minSamples(config, rows: train.count)
    let note = used == config.minSamples ? "" : " (min_samples \(used): \(config.minSamples) is more than a tenth of the \(train.count) rows)"
    return (removed, FilterRecord(found: ["\(count) clusters, \(clusters.filter { $0 < 0 }.count) noise rows\(note)"], rows: train, removed: removed))
  }

  /// BKI's keyword and the rows it removes, read with the undefended model (merged for the
  /// reading, then taken out); kept in the cell (`bki.json`) for a resumed run.
  func bkiFilter(_ train: [Example], baseline: BaselineDefense, template: PromptTemplate, undefended: String, bundle: ModelBundle,
                 folders: CellFolders, progress: @escaping (ExperimentEvent) -> Void) throws -> (removed: [Bool], record: FilterRecord) {
    let path = folders.cell + "/" + BKIScoring.resultFile
    let result: BKIScoring.Result
    if let stored = try? JSONOutput.read(BKIScoring.Result.self, from: path), stored.topWords.count == train.count {
      result = stored
    } else {
      let merged = try PEFTAdapter.load(from: undefended, model: bundle.model.config).merge(into: bundle.model)
      defer { merged.restore() }
      progress(.phase("BKI: the undefended model reads \(train.count) training rows with each word left out"))
      result = try BKIScoring.run(train.map(\.text), template: template, config: baseline.bki ?? BKI.Config(), bundle: bundle) {
        progress(.evaluating("BKI rows", $0, $1))
      }
      try JSONOutput.write(result, to: path)
    }
    let removed = result.removed
    return (removed, FilterRecord(found: result.keyword.map { [$0] } ?? [], rows: train, removed: removed))
  }

  public func train(_ cell: ExperimentPlan.Cell, job: Job, bundle: ModelBundle, in folders: CellFolders, resume: Bool,
                    progress: @escaping (TrainingEvent) -> Void) throws -> TrainingSummary {
    try ClassifierTraining.train(bundle: bundle, pairs: job.pairs, spec: job.spec, config: cell.training, directory: folders.model,
                                 resume: resume, selection: cell.selection, dev: job.split, progress: progress)
  }

  public func evaluate(_ cell: ExperimentPlan.Cell, job: Job, data: PoisonedDataset, summary: TrainingSummary, bundle: ModelBundle,
                       in folders: CellFolders, progress: @escaping (ExperimentEvent) -> Void) throws -> CellResult {
    let report: (String, Int, Int) -> Void = { progress(.evaluating($0, $1, $2)) }
    let evaluation: ClassificationResult
    switch cell.baseline?.kind {
    case nil: evaluation = try ClassificationEvaluation.run(scorer: PromptScorer(bundle), spec: job.spec, data: data, progress: report)
    case .onion?:
      evaluation = try BaselineEvaluation.onion(scorer: PromptScorer(bundle), spec: job.spec, data: data, defense: cell.baseline!,
                                                scores: job.onionScores ?? OnionScores(scores: [:]), progress: report)
    case .strip?:
      evaluation = try BaselineEvaluation.strip(scorer: PromptScorer(bundle), spec: job.spec, data: data, defense: cell.baseline!, progress: report)
    case .quantize?:
      evaluation = try Self.quantized(bundle, spec: job.spec, data: data, defense: cell.baseline!, progress: report)
    case .cleangen?:
      throw ExperimentError.invalid(key: "defense cleangen", expected: "a generation task (it decodes text)")
    case .rap?:
      evaluation = try RAPDefense.evaluate(bundle, spec: job.spec, data: data, defense: cell.baseline!, progress: report)
    case .prune?:
      evaluation = try Self.pruned(bundle, spec: job.spec, data: data, defense: cell.baseline!, progress: report)
    case .finetune?:
      var e = try ClassificationEvaluation.run(scorer: PromptScorer(bundle), spec: job.spec, data: data, progress: report)
      let c = cell.baseline!.finetune ?? CleanFineTuning.Config()
      e.baseline = BaselineRecord(defense: cell.baseline!, threshold: nil,
                                  thresholdSource: "the undefended adapter trained \(c.epochs) more epochs on \(job.pairs.count) clean dev rows (up to \(c.rowsPerLabel) per label)",
                                  devRows: job.pairs.count, devSource: "dev split")
      evaluation = e
    case .bki?, .cube?:
      var e = try ClassificationEvaluation.run(scorer: PromptScorer(bundle), spec: job.spec, data: data, progress: report)
      let isCube = cell.baseline!.kind == .cube
      var record = BaselineRecord(defense: cell.baseline!, threshold: nil, thresholdSource: job.filter.map {
        (isCube ? $0.found.joined(separator: "; ") : "keyword \($0.found.map { "\"\($0)\"" }.joined(separator: ", "))")
          + ": \($0.removedRows) of \($0.trainRows) training rows removed, the model trained again"
      } ?? "nothing found", devRows: 0, devSource: "none")
      record.filter = job.filter
      e.baseline = record
      evaluation = e
    }
    try JSONOutput.write(evaluation, to: folders.cell + "/evaluation.json")
    try JSONOutput.write(text: ReportWriter.markdown(evaluation, title: cell.key), to: folders.cell + "/evaluation.md")
    // What a user without the test split's answers would see (`p2p check`).
    var check: SafeSpaceCheck?
    if cell.baseline == nil, job.spec.kind == .p2p {
      check = try SafeSpaceCheck.run(scorer: PromptScorer(bundle), spec: job.spec, data: data, seed: cell.seed) {
        report("safe-space check (\($0) inputs)", $1, $2)
      }
      try JSONOutput.write(check, to: folders.model + "/" + SafeSpaceCheck.fileName)
    }
    var result = CellResult(key: cell.key, dataset: cell.dataset, attack: cell.attackLabel, defense: cell.baseline?.name ?? DefenseLabel.of(job.defense), seed: cell.seed,
                            attackConfig: cell.attack, p2p: job.defense, training: cell.training, trainRows: job.pairs.count,
                            trainingSeconds: summary.seconds, finalLoss: summary.finalLoss, evaluation: evaluation)
      .with(manifest: job.manifest)
    result.trainingTimedFromStep = summary.timedFromStep
    result.selection = try? JSONOutput.read(SelectionRecord.self, from: folders.model + "/" + SelectionRecord.fileName)
    result.screeningSeconds = job.probe?.seconds
    result.baseline = cell.baseline
    result.modelOf = job.modelOf
    result.model = modelName
    result.safeSpaceCheck = check
    return result
  }

  /// The default pipeline's second try when the first fails its safe-space check (`SafeSpaceRetry`).
  public func retry(_ cell: ExperimentPlan.Cell, after result: CellResult) -> ExperimentPlan.Cell? {
    guard cell.baseline == nil, let requested = cell.defense,
          let next = SafeSpaceRetry.config(requested: requested, ran: result.p2p, flipped: result.flippedRows,
                                                   check: result.safeSpaceCheck) else { return nil }
    var c = cell
    c.defense = next
    return c
  }

  /// The try whose safe-space check is better (`SafeSpaceRetry.prefersRetry`; a tie keeps the
  /// first), under the cell's key, recording the other try; the training time counts both.
  public func settle(first: CellResult, retry: CellResult) -> CellResult {
    guard let a = first.safeSpaceCheck else { return first }
    guard let b = retry.safeSpaceCheck else { return settle(first: first, retryError: ExperimentError.invalid(key: "second try", expected: "a safe-space check of its adapter (none ran)")) }
    var record = SafeSpaceRetry.record(first: a, retry: b)
    var kept = record.kept == .retry ? retry : first
    let other = record.kept == .retry ? first : retry
    let m = other.evaluation.metrics
    record.otherAccuracy = m.cleanAccuracy.value
    record.otherMacroF1 = m.macroF1
    record.otherASR = m.attackSuccessRate?.value
    record.otherTrainingSeconds = other.trainingSeconds
    kept.key = first.key
    kept.trainingSeconds = first.trainingSeconds + retry.trainingSeconds
    kept.retry = record
    return kept
  }

  /// The first try, recording that the second one failed with `retryError`.
  public func settle(first: CellResult, retryError: any Error) -> CellResult {
    guard let a = first.safeSpaceCheck else { return first }
    var kept = first
    kept.retry = SafeSpaceRetry.record(first: a, retryError: "\(retryError)")
    return kept
  }

  /// The folder of the finished undefended cell with `cell`'s dataset, attack, seed and training
  /// settings (whose model is the probe a probe-screen cell would train), if the grid has one and
  /// its stored result says it was trained so (a reused output folder may hold an older run).
  func finishedUndefendedTwin(of cell: ExperimentPlan.Cell, grid: String) -> String? {
    guard let twin = (try? cells())?.first(where: {
      $0.defense == nil && $0.baseline == nil && $0.dataset == cell.dataset && $0.attack == cell.attack && $0.seed == cell.seed
        && $0.training == cell.training && $0.selection == cell.selection
    }) else { return nil }
    let dir = grid + "/cells/" + twin.key
    guard let stored = try? CellResult.load(cellDirectory: dir), stored.p2p == nil, stored.baseline == nil, stored.training == cell.training,
          stored.attackConfig == cell.attack, stored.seed == cell.seed, stored.dataset == cell.dataset else { return nil }
    return dir
  }

  /// `results` judged with the reference cells (`p2p report --twins-from`) that `directory`'s
  /// results.json already holds.
  func grid(_ results: [CellResult], in directory: String) throws -> GridResults {
    GridResults(results, references: try GridResults.storedReferences(at: directory + "/results.json"))
  }

  /// Rewrites the reports, keeping the folder's reference cells.
  public func writeReports(_ results: [CellResult], to directory: String) throws {
    try GridReport.write(grid(results, in: directory), title: title, to: directory)
  }

  /// The report as `writeReports` wrote it into `directory`.
  public func markdown(_ results: [CellResult], title: String, directory: String) throws -> String {
    GridReport.markdown(try grid(results, in: directory), title: title)
  }

  /// One line per defended cell with its verdict, and a warning per degenerate undefended cell.
  public func verdictLines(_ results: [CellResult], directory: String) throws -> [String] {
    GridReport.verdictLines(try grid(results, in: directory))
  }

  public func summaryLine(_ r: CellResult) -> String {
    let e = r.evaluation, pct = GridReport.percentText
    return String(format: "  CA %@%%  macro-F1 %@%%  ASR %@%%", pct(e.metrics.cleanAccuracy.value), pct(e.metrics.macroF1),
                  pct(e.metrics.attackSuccessRate?.value ?? .nan))
      + (e.metrics.degenerate ? "  DEGENERATE classifier (one label for nearly every input)" : "")
      + (e.metrics.degenerate ? "" : ReportWriter.droppedLabelsText(e.metrics).map { "  DROPS \($0)" } ?? "")
      + (e.p2p.map { String(format: "  (no wrapper: ASR %@%%)", pct($0.withoutWrapper.attackSuccessRate?.value ?? .nan)) } ?? "")
      + String(format: "  train %.0f s", r.trainingSeconds)
      + (r.retry.map { "\n  " + $0.summary } ?? "")
  }
}

/// The classification grid runner (`p2p run` on a classification file).
public typealias ExperimentRunner = GridRunner<ClassificationFamily>

extension GridRunner where Family == ClassificationFamily {
  public convenience init(plan: ExperimentPlan, directory: String, dataRoot: String?, rerunChanged: Bool = false) {
    self.init(ClassificationFamily(plan: plan, dataRoot: dataRoot), directory: directory, rerunChanged: rerunChanged)
  }
}
