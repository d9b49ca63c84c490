import Backdoor
import Defense
import Evaluation
import FileIO
import Foundation
import Training
import Yams

/// An experiment grid read from YAML, for any task: datasets × attacks × defenses × seeds, each
/// cell a poisoning, a training run and an evaluation. Keys are snake_case; every key but
/// `attacks` has a default (DESIGN.md §3's official settings). `task:` is `classification` (the
/// default; cells from `cells()`) or a generation task (`math`, `summarization`, `instruction`;
/// cells from `generationCells()`, keys in GenerationPlan.swift). A few keys belong to one kind
/// of task only (`selection`, `target`, `setting`, `placement`, `unrestricted` to classification;
/// `max_new_tokens`, `ablation`, `payload`, `multiplier`, `backdoorllm_keywords`, `safe_prefix` to
/// generation); a key of the other kind is an error.
///
/// ```yaml
/// name: sst2-demo
/// datasets: [sst2]
/// train_limit: 1000        # training subset per cell (omit: the whole set)
/// test_limit: 400          # clean test subset (the triggered set is built from it)
/// attacks:
///   - {name: clean, attack: badnets, rate: 0}
///   - {attack: badnets, rate: 0.1, target: 1}
///   - {attack: addsent, rate: 0.1, target: 1}
/// defenses: [none, p2p]    # p2p: the data-driven default (word screen + cover when a trigger
///                          # word is found, else the probe screen; rho 1 unless set); "p2p-paper":
///                          # the paper's random benign rows (rho 0.2 unless set); p2p.ratio applies
///                          # to every variant, "p2p:0.1" overrides it for one; "p2p-agree"
///                          # picks benign rows by the base model's zero-shot label agreement;
///                          # "p2p-screen" skips rows with a suspicious trigger word; "p2p-cover"
///                          # also inserts the recovered triggers into half the benign rows;
///                          # "p2p-probe" trains a probe, clusters its hidden states and puts
///                          # the poison-like rows into the safe space with the other label;
///                          # "p2p-spectral" ranks rows along the relative spectral direction;
///                          # "p2p-oracle" draws them from known-clean rows only (a diagnostic)
///                          # baselines: "onion" (words removed by perplexity), "strip"
///                          # (inputs rejected by prediction entropy), on the undefended model
/// seeds: [42]
/// p2p: {ratio: 0.2, mode: union}
/// training: {epochs: 3, batch_size: 32, lr: 2.0e-4}
/// selection: last          # or best-dev: the epoch with the best dev macro-F1 (ModelSelection)
/// baselines: {onion: {max_dev_accuracy_drop: 0.02}, strip: {repeats: 5, swap_ratio: 0.5, frr: 0.01}}
/// ```
public struct ExperimentPlan: GridPlan, Codable, Sendable, Equatable {
  public struct Attack: Codable, Sendable, Equatable {
    public var name: String?
    /// A classification `AttackKind` or a generation attack (`GenerationAttackConfig.attackNames`).
    public var attack: String
    public var rate: Double?
    public var target: Int?
    public var setting: PoisonSetting?
    public var trigger: String?
    public var count: Int?
    public var placement: CustomTrigger.Placement?
    public var payload: String?
    public var multiplier: Double?
    public var backdoorLLMKeywords: Bool?
    /// The training set re-drawn with these label shares before poisoning (`LabelShares`).
    public var labelShares: [Double]?
    /// Defenses for this attack only (default: the plan's `defenses`).
    public var defenses: [String]?
    enum CodingKeys: String, CodingKey, CaseIterable {
      case name, attack, rate, target, setting, trigger, count, placement, payload, multiplier, defenses
      case backdoorLLMKeywords = "backdoorllm_keywords", labelShares = "label_shares"
    }

    /// Display name: `name`, else the attack.
    public var label: String { name ?? attack }
  }

  public struct P2P: Codable, Sendable, Equatable {
    public var ratio: Double?
    public var mode: P2PMode?
    public var benignTrigger: String?
    public var unrestricted: Bool?
    public var safePrefix: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
      case ratio, mode, benignTrigger = "benign_trigger", unrestricted, safePrefix = "safe_prefix"
    }
  }

  public struct Training: Codable, Sendable, Equatable {
    public var epochs: Int?
    public var batchSize: Int?
    public var gradientAccumulation: Int?
    public var lr: Float?
    public var loraRank: Int?
    public var loraAlpha: Float?
    public var loraDropout: Float?
    public var loraTargets: String?
    public var maxLength: Int?
    enum CodingKeys: String, CodingKey, CaseIterable {
      case epochs, lr, batchSize = "batch_size", gradientAccumulation = "gradient_accumulation", loraRank = "lora_rank"
      case loraAlpha = "lora_alpha", loraDropout = "lora_dropout", loraTargets = "lora_targets", maxLength = "max_length"
    }

    /// `base` with these keys over it (LoRA defaults r=16, alpha 16, dropout 0.1 on q,v), the
    /// cell's seed and a checkpoint every 25 steps; validated.
    public func applied(to base: TrainingConfig, seed: UInt64) throws -> TrainingConfig {
      var c = base
      if let v = epochs { c.epochs = v }
      if let v = batchSize { c.batchSize = v }
      if let v = gradientAccumulation { c.gradientAccumulation = v }
      if let v = lr { c.learningRate = v }
      if let v = maxLength { c.maxLength = v }
      c.lora = LoRAConfig(rank: loraRank ?? 16, alpha: loraAlpha ?? 16, dropout: loraDropout ?? 0.1,
                          targets: try LoRATarget.parseList(loraTargets ?? "q,v"))
      c.seed = seed
      c.checkpointEvery = 25
      try c.validate()
      return c
    }
  }

  /// Hyper-parameters of the baseline defenses (`defenses: [onion, strip]`); defaults from the
  /// paper or OpenBackdoor (`Onion.Config`, `Strip.Config`).
  public struct Baselines: Codable, Sendable, Equatable {
    public struct OnionKeys: Codable, Sendable, Equatable {
      public var threshold: Double?
      public var maxDevAccuracyDrop: Double?
      public var devRows: Int?
      enum CodingKeys: String, CodingKey, CaseIterable { case threshold, maxDevAccuracyDrop = "max_dev_accuracy_drop", devRows = "dev_rows" }
    }
    public struct StripKeys: Codable, Sendable, Equatable {
      public var repeats: Int?
      public var swapRatio: Double?
      public var frr: Double?
      public var devRows: Int?
      enum CodingKeys: String, CodingKey, CaseIterable { case repeats, swapRatio = "swap_ratio", frr, devRows = "dev_rows" }
    }
    public struct BKIKeys: Codable, Sendable, Equatable {
      public var topWords: Int?
      enum CodingKeys: String, CodingKey, CaseIterable { case topWords = "top_words" }
    }
    public var onion: OnionKeys?
    public var strip: StripKeys?
    public struct FineTuneKeys: Codable, Sendable, Equatable {
      public var rowsPerLabel: Int?
      public var epochs: Int?
      public var lr: Float?
      enum CodingKeys: String, CodingKey, CaseIterable { case rowsPerLabel = "rows_per_label", epochs, lr }
    }
    public struct PruneKeys: Codable, Sendable, Equatable {
      public var share: Double?
      public var devRows: Int?
      enum CodingKeys: String, CodingKey, CaseIterable { case share, devRows = "dev_rows" }
    }
    public var bki: BKIKeys?
    public var finetune: FineTuneKeys?
    public struct CUBEKeys: Codable, Sendable, Equatable {
      public var components: Int?
      public var minSamples: Int?
      public var minClusterSize: Int?
      enum CodingKeys: String, CodingKey, CaseIterable { case components, minSamples = "min_samples", minClusterSize = "min_cluster_size" }
    }
    public var prune: PruneKeys?
    public struct RAPKeys: Codable, Sendable, Equatable {
      public var trigger: String?
      public var minDrop: Double?
      public var maxDrop: Double?
      public var epochs: Int?
      public var lr: Double?
      public var frr: Double?
      public var devRows: Int?
      public var scale: Double?
      public var batchSize: Int?
      enum CodingKeys: String, CodingKey, CaseIterable {
        case trigger, minDrop = "min_drop", maxDrop = "max_drop", epochs, lr, frr, devRows = "dev_rows", scale, batchSize = "batch_size"
      }
    }
    public var cube: CUBEKeys?
    public struct CleanGenKeys: Codable, Sendable, Equatable {
      public var alpha: Double?
      public var horizon: Int?
      enum CodingKeys: String, CodingKey, CaseIterable { case alpha, horizon }
    }
    public var rap: RAPKeys?
    public var cleangen: CleanGenKeys?
    enum CodingKeys: String, CodingKey, CaseIterable { case onion, strip, bki, finetune, prune, cube, rap, cleangen }

    /// The baseline `kind` with these keys over its defaults, seeded by the cell.
    public func defense(_ kind: BaselineKind, seed: UInt64) throws -> BaselineDefense {
      let o = onion ?? OnionKeys(), st = strip ?? StripKeys()
      var onionConfig = Onion.Config(), stripConfig = Strip.Config()
      if let v = o.threshold { onionConfig.threshold = v }
      if let v = o.maxDevAccuracyDrop { onionConfig.maxDevAccuracyDrop = v }
      if let v = o.devRows { onionConfig.devRows = v }
      if let v = st.repeats { stripConfig.repeats = v }
      if let v = st.swapRatio { stripConfig.swapRatio = v }
      if let v = st.frr { stripConfig.frr = v }
      if let v = st.devRows { stripConfig.devRows = v }
      var bkiConfig = BKI.Config()
      if let v = bki?.topWords { bkiConfig.topWords = v }
      var fineTune = CleanFineTuning.Config()
      if let v = finetune?.rowsPerLabel { fineTune.rowsPerLabel = v }
      if let v = finetune?.epochs { fineTune.epochs = v }
      if let v = finetune?.lr { fineTune.learningRate = v }
      var pruning = NeuronPruning.Config()
      if let v = prune?.share { pruning.share = v }
      if let v = prune?.devRows { pruning.devRows = v }
      var clustering = CUBE.Config()
      if let v = cube?.components { clustering.components = v }
      if let v = cube?.minSamples { clustering.minSamples = v }
      if let v = cube?.minClusterSize { clustering.minClusterSize = v }
      var perturbation = RAP.Config()
      if let v = rap?.trigger { perturbation.trigger = v }
      if let v = rap?.minDrop { perturbation.minDrop = v }
      if let v = rap?.maxDrop { perturbation.maxDrop = v }
      if let v = rap?.epochs { perturbation.epochs = v }
      if let v = rap?.lr { perturbation.learningRate = v }
      if let v = rap?.frr { perturbation.frr = v }
      if let v = rap?.devRows { perturbation.devRows = v }
      if let v = rap?.scale { perturbation.scale = v }
      if let v = rap?.batchSize { perturbation.batchSize = v }
      let d = BaselineDefense(kind: kind, onion: onionConfig, strip: stripConfig, bki: bkiConfig, finetune: fineTune, prune: pruning,
                              cube: clustering, rap: perturbation,
                              cleangen: CleanGen.Config(alpha: cleangen?.alpha ?? CleanGen.Config().alpha, horizon: cleangen?.horizon ?? CleanGen.Config().horizon),
                              seed: seed)
      do { try d.validate() } catch { throw ExperimentError.invalid(key: "baselines", expected: "\(error)") }
      return d
    }
  }

  public var name: String?
  public var model: String?
  public var datasets: [String]?
  public var attacks: [Attack]
  public var defenses: [String]?
  public var seeds: [UInt64]?
  public var trainLimit: Int?
  public var testLimit: Int?
  public var p2p: P2P?
  public var training: Training?
  /// `last` (the default) or `best-dev`: keep the epoch with the best dev macro-F1 through the
  /// deployed path (`ModelSelection`).
  public var selection: ModelSelection?
  /// `classification` (the default) or a generation task (`math`, `summarization`, `instruction`).
  public var task: String?
  /// Generation: most new tokens per generation (default by task, `GenerationSpec`).
  public var maxNewTokens: Int?
  /// Generation: P2P cells are also decoded without the wrapper (default true).
  public var ablation: Bool?
  /// Classification: hyper-parameters of the baseline defenses.
  public var baselines: Baselines?

  enum CodingKeys: String, CodingKey, CaseIterable {
    case name, model, datasets, attacks, defenses, seeds, p2p, training, task, selection, ablation, baselines
    case trainLimit = "train_limit", testLimit = "test_limit", maxNewTokens = "max_new_tokens"
  }

  /// The generation task of the file; nil for classification.
  public var generationTask: GenerationTask? { task.flatMap(GenerationTask.init(rawValue:)) }

  /// Parses YAML and builds the grid once, so a dataset that cannot be read or a value out of
  /// range fails here; errors name the file and what was wrong.
  public static func load(_ path: String) throws -> ExperimentPlan {
    let plan = try decode(path)
    do {
      if plan.generationTask != nil { _ = try plan.generationCells() } else { _ = try plan.cells() }
    } catch { throw ExperimentError.badFile(path: path, reason: "\(error)") }
    return plan
  }

  /// Parses YAML and checks its keys without building the grid: no dataset is opened.
  public static func decode(_ path: String) throws -> ExperimentPlan {
    let text: String
    do { text = try TextFile.read(path) } catch { throw ExperimentError.badFile(path: path, reason: error.reason) }
    // Before any YAML parsing: an alias bomb costs the parser minutes (found by fuzzing).
    try StrictYAML.refuseAnchors(text, path: path)
    try StrictYAML.check(text, path: path, schema: keySchema)
    let plan: ExperimentPlan
    do { plan = try YAMLDecoder().decode(ExperimentPlan.self, from: text) } catch {
      throw ExperimentError.badFile(path: path, reason: "not a valid experiment file: \(DecodingMessage.reason(error))")
    }
    if let task = plan.task, task != "classification" && plan.generationTask == nil {
      throw ExperimentError.badFile(path: path, reason: "invalid task '\(task)': expected classification, math, summarization or instruction")
    }
    if let key = plan.keyOfOtherTask {
      throw ExperimentError.badFile(path: path, reason: plan.generationTask == nil
        ? "'\(key)' is a key of generation files (task: math, summarization or instruction), not of classification"
        : "'\(key)' is a key of classification files, not of task \(plan.task ?? "")")
    }
    return plan
  }

  /// The first key set in the file that belongs to the other kind of task, if any.
  var keyOfOtherTask: String? {
    let p = p2p ?? P2P()
    if generationTask == nil {
      let generationOnly: [(String, Bool)] = [("max_new_tokens", maxNewTokens != nil), ("ablation", ablation != nil),
                                              ("p2p.safe_prefix", p.safePrefix != nil)]
        + attacks.enumerated().flatMap { (i, a) in
          [("attacks[\(i)].payload", a.payload != nil), ("attacks[\(i)].multiplier", a.multiplier != nil),
           ("attacks[\(i)].backdoorllm_keywords", a.backdoorLLMKeywords != nil)]
        }
      return generationOnly.first { $0.1 }?.0
    }
    let classificationOnly: [(String, Bool)] = [("selection", selection != nil), ("p2p.unrestricted", p.unrestricted != nil)]
      + attacks.enumerated().flatMap { (i, a) in
        [("attacks[\(i)].target", a.target != nil), ("attacks[\(i)].setting", a.setting != nil),
         ("attacks[\(i)].placement", a.placement != nil), ("attacks[\(i)].label_shares", a.labelShares != nil)]
      }
    return classificationOnly.first { $0.1 }?.0
  }

  /// One cell of the grid.
  public struct Cell: GridCell, Equatable {
    public var dataset: String
    public var attackLabel: String
    public var attack: AttackConfig
    /// nil: undefended (or a baseline defense).
    public var defense: P2PConfig?
    /// A baseline defense instead of P2P (nil with `defense` nil: undefended).
    public var baseline: BaselineDefense?
    public var seed: UInt64
    public var training: TrainingConfig
    public var selection: ModelSelection = .last
    /// The dataset's label count.
    public var labels: Int = 2

    /// The prompts whose label words the cell trains: the plain template, or P2P's original and benign ones.
    public var prompts: [PromptTemplate] {
      defense.map { [$0.originalPrompt, $0.benignPrompt] } ?? [P2PConfig(labels: labels).originalPrompt]
    }

    public var defenseLabel: String { baseline?.name ?? DefenseLabel.of(defense) }
    /// File-system-safe identifier.
    public var key: String {
      let d = defense.map { "p2p\($0.automatic == true ? "-auto" : "")\($0.confirmFlips == true ? "-confirm" : "")\($0.excludePoisonedFromBenign == true ? "-oracle" : "")\($0.selectsByAgreement ? "-agree" : "")\($0.screenTriggers == true ? "-screen" : "")\($0.coverTriggers == true ? "-cover" : "")\($0.probeScreen == true ? "-probe" : "")\($0.spectralScreen == true ? "-spectral" : "")-\($0.ratio)" } ?? "none"
      return "\(dataset)_\(attackLabel)_\(baseline?.name ?? d)_s\(seed)".map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "-" }.reduce("") { $0 + String($1) }
    }
  }

  public func trainingConfig(seed: UInt64) throws -> TrainingConfig {
    try (training ?? Training()).applied(to: TaskDefaults.training(.classification), seed: seed)
  }

  /// "p2p" (the data-driven default, `P2PConfig.automatic`), "p2p-paper" (the paper's random
  /// benign rows), "p2p-agree", "p2p-screen" (random among rows without a suspicious trigger word),
  /// "p2p-cover" (p2p-screen with the recovered triggers inserted into half the benign rows),
  /// "p2p-probe" (probe screen with flip cover, `P2PConfig.probeScreen`),
  /// "p2p-oracle" or "p2p-agree-oracle" (agreement selection among the rows
  /// known to be clean: a diagnostic), optionally followed by ":RATIO"; nil when not a P2P
  /// defense or the ratio is not a number.
  static func parseDefense(_ d: String) -> (variant: String, ratio: Double?)? {
    let parts = d.split(separator: ":", maxSplits: 1).map(String.init)
    guard let variant = parts.first, ["p2p", "p2p-confirm", "p2p-paper", "p2p-agree", "p2p-screen", "p2p-cover", "p2p-probe", "p2p-spectral", "p2p-oracle", "p2p-agree-oracle"].contains(variant) else { return nil }
    guard parts.count == 2 else { return (variant, nil) }
    guard let r = Double(parts[1]) else { return nil }
    return (variant, r)
  }

  /// The grid in run order: dataset, attack, seed, defense.
  public func cells(dataRoot: String? = DataRoot.find()) throws -> [Cell] {
    guard generationTask == nil else {
      throw ExperimentError.invalid(key: "task", expected: "classification here (a generation plan's cells are generationCells())")
    }
    guard !attacks.isEmpty else { throw ExperimentError.invalid(key: "attacks", expected: "at least one attack") }
    var out: [Cell] = []
    let seedList = seeds ?? [42]
    guard !seedList.isEmpty else { throw ExperimentError.invalid(key: "seeds", expected: "at least one seed") }
    let datasetList = datasets ?? ["sst2"]
    guard !datasetList.isEmpty else { throw ExperimentError.invalid(key: "datasets", expected: "at least one dataset") }
    for dataset in datasetList {
      let labels: Int
      do { labels = try DatasetCatalog.labelSet(of: dataset, root: dataRoot).count } catch {
        throw ExperimentError.invalid(key: "datasets '\(dataset)'", expected: "a built-in dataset or a folder with train and test files (\(error))")
      }
      for a in attacks {
        for seed in seedList {
          if let r = a.rate, !(r >= 0 && r <= 1) { throw ExperimentError.invalid(key: "attacks[\(a.label)].rate '\(r)'", expected: "a fraction in [0, 1]") }
          if let t = a.target, !(t >= 0 && t < labels) {
            throw ExperimentError.invalid(key: "attacks[\(a.label)].target '\(t)'", expected: "a label of \(dataset) (\(LabelSet(count: labels).range))")
          }
          if let c = a.count, c < 1 { throw ExperimentError.invalid(key: "attacks[\(a.label)].count '\(c)'", expected: ">= 1") }
          guard let kind = AttackKind(rawValue: a.attack) else {
            throw ExperimentError.invalid(key: "attacks[\(a.label)].attack '\(a.attack)'",
                                          expected: "one of \(AttackKind.allCases.map(\.rawValue).joined(separator: ", "))")
          }
          if let shares = a.labelShares {
            do { try LabelShares(shares).validate(labels: labels) } catch {
              throw ExperimentError.invalid(key: "attacks[\(a.label)].label_shares", expected: "\(error)")
            }
          }
          let attack = AttackConfig(attack: kind, rate: a.rate ?? 0.1, target: a.target ?? 1, setting: a.setting ?? .dirty,
                                    trigger: a.trigger, count: a.count ?? 1, placement: a.placement ?? .random, seed: seed,
                                    trainLimit: trainLimit, testLimit: testLimit, labelShares: a.labelShares)
          let defenseList = a.defenses ?? defenses ?? ["none", DefensePreset.defaultPreset.rawValue]
          guard !defenseList.isEmpty else {
            throw ExperimentError.invalid(key: a.defenses != nil ? "attacks[\(a.label)].defenses" : "defenses", expected: "at least one defense (none, p2p, …)")
          }
          for d in defenseList {
            var defense: P2PConfig?, baseline: BaselineDefense?
            if d == "none" {
              defense = nil
            } else if let kind = BaselineKind(rawValue: d) {
              guard kind.forClassification else {
                throw ExperimentError.invalid(key: "defenses '\(d)'", expected: "a classification defense (\(d) is for generation tasks: task: math, summarization or instruction)")
              }
              baseline = try (baselines ?? Baselines()).defense(kind, seed: seed)
            } else if let (variant, r) = Self.parseDefense(d) {
              let ratio = r ?? p2p?.ratio ?? DefensePreset(rawValue: variant)?.defaultRatio ?? P2PConfig.defaultRatio
              defense = P2PConfig(benignTrigger: p2p?.benignTrigger ?? P2PConfig.defaultBenignTrigger, ratio: ratio,
                                  mode: p2p?.mode ?? .union, labels: labels, unrestricted: p2p?.unrestricted ?? false, seed: seed,
                                  excludePoisonedFromBenign: variant.hasSuffix("-oracle") ? true : nil,
                                  selection: variant.hasPrefix("p2p-agree") ? .agreement : nil,
                                  screenTriggers: ["p2p-screen", "p2p-cover"].contains(variant) ? true : nil,
                                  coverTriggers: variant == "p2p-cover" ? true : nil,
                                  probeScreen: variant == "p2p-probe" ? true : nil, automatic: ["p2p", "p2p-confirm"].contains(variant) ? true : nil,
                                  spectralScreen: variant == "p2p-spectral" ? true : nil, confirmFlips: variant == "p2p-confirm" ? true : nil)
              try defense!.validate()
            } else {
              throw ExperimentError.invalid(key: "defenses '\(d)'",
                                            expected: "none, p2p (the data-driven default), p2p-confirm, p2p-paper, p2p-agree, p2p-screen, p2p-cover, p2p-probe, p2p-spectral, p2p-oracle or p2p-agree-oracle, each optionally with :RATIO (p2p:0.3), or a baseline defense (\(BaselineKind.allCases.filter(\.forClassification).map(\.rawValue).joined(separator: ", ")))")
            }
            out.append(Cell(dataset: dataset, attackLabel: a.label, attack: attack, defense: defense, baseline: baseline, seed: seed,
                            training: try trainingConfig(seed: seed), selection: selection ?? .last, labels: labels))
          }
        }
      }
    }
    let keys = out.map(\.key)
    guard Set(keys).count == keys.count else {
      throw ExperimentError.invalid(key: "attacks", expected: "distinct cells (give repeated attacks different names)")
    }
    return out
  }
}
