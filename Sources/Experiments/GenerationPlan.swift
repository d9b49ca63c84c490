import FileIO
import Foundation
import Backdoor
import Defense
import Evaluation
import Training
import Yams

/// An experiment grid of a generation task, read from the same YAML files as `ExperimentPlan`
/// when `task:` names a generation task (`ExperimentPlan.load` hands such files here): datasets ×
/// attacks × defenses × seeds, each cell a poisoning, a LoRA training run and a greedy-decoding
/// evaluation (task quality and ASR, undefended vs P2P). Keys are snake_case.
///
/// ```yaml
/// name: gsm8k-badchain
/// task: math                 # math | summarization | instruction
/// datasets: [gsm8k]          # default: gsm8k, scitldr or backdoorllm/negsentiment by task
/// train_limit: 300
/// test_limit: 40
/// attacks:
///   - {name: clean, attack: badchain, rate: 0}
///   - {attack: badchain, rate: 0.1}        # also: trigger, multiplier, payload, count, backdoorllm_keywords, defenses
/// defenses: [none, p2p]      # "p2p:0.1" overrides the ratio; "p2p-screen" adds the trigger screen;
///                            # "p2p-cover" also inserts the screened words into half the benign rows
/// seeds: [42]
/// p2p: {ratio: 0.2, mode: union, benign_trigger: "The query currently entered is: ", safe_prefix: "[safe] "}
/// max_new_tokens: 256        # default by task (GenerationSpec)
/// ablation: true             # P2P cells are also decoded without the wrapper
/// training: {epochs: 2, batch_size: 8, lr: 2.0e-4, max_length: 320}
/// ```
public struct GenerationPlan: GridPlan, Codable, Sendable, Equatable {
  public struct Attack: Codable, Sendable, Equatable {
    public var name: String?
    public var attack: String
    public var rate: Double?
    public var trigger: String?
    public var payload: String?
    public var multiplier: Double?
    public var count: Int?
    public var backdoorLLMKeywords: Bool?
    /// Defenses for this attack only (default: the plan's `defenses`).
    public var defenses: [String]?
    enum CodingKeys: String, CodingKey, CaseIterable {
      case name, attack, rate, trigger, payload, multiplier, count, defenses, backdoorLLMKeywords = "backdoorllm_keywords"
    }
    public var label: String { name ?? attack }
  }

  public struct P2P: Codable, Sendable, Equatable {
    public var ratio: Double?
    public var mode: GenerationP2P.Mode?
    public var benignTrigger: String?
    public var safePrefix: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case ratio, mode, benignTrigger = "benign_trigger", safePrefix = "safe_prefix" }
  }

  public var name: String?
  public var model: String?
  public var task: GenerationTask
  public var datasets: [String]?
  public var attacks: [Attack]
  public var defenses: [String]?
  public var seeds: [UInt64]?
  public var trainLimit: Int?
  public var testLimit: Int?
  public var p2p: P2P?
  public var maxNewTokens: Int?
  public var ablation: Bool?
  public var training: ExperimentPlan.Training?

  enum CodingKeys: String, CodingKey, CaseIterable {
    case name, model, task, datasets, attacks, defenses, seeds, p2p, ablation, training
    case trainLimit = "train_limit", testLimit = "test_limit", maxNewTokens = "max_new_tokens"
  }

  /// The plan in `text` when its `task:` is a generation task; nil when `task` is absent or
  /// `classification`. Errors name `path`.
  public static func load(text: String, path: String) throws -> GenerationPlan? {
    // Before any YAML parsing: an alias bomb costs the parser minutes (found by fuzzing).
    try StrictYAML.refuseAnchors(text, path: path)
    struct Probe: Decodable { var task: String? }
    let probe: Probe
    do { probe = try YAMLDecoder().decode(Probe.self, from: text) } catch {
      throw ExperimentError.badFile(path: path, reason: "not a valid experiment file: \(DecodingMessage.reason(error))")
    }
    guard let task = probe.task, task != "classification" else { return nil }
    guard GenerationTask(rawValue: task) != nil else {
      throw ExperimentError.badFile(path: path, reason: "invalid task '\(task)': expected classification, math, summarization or instruction")
    }
    try StrictYAML.check(text, path: path, schema: keySchema)
    let plan: GenerationPlan
    do { plan = try YAMLDecoder().decode(GenerationPlan.self, from: text) } catch {
      throw ExperimentError.badFile(path: path, reason: "not a valid \(task) experiment file: \(DecodingMessage.reason(error))")
    }
    do { _ = try plan.cells() } catch { throw ExperimentError.badFile(path: path, reason: "\(error)") }
    return plan
  }

  public static func defaultDataset(for task: GenerationTask) -> String {
    switch task {
    case .math: "gsm8k"
    case .summarization: "scitldr"
    case .instruction: "backdoorllm/negsentiment"
    }
  }

  /// Training settings of a cell: the plan's keys over the defaults (batch 8, LoRA r=16,
  /// alpha 16, dropout 0.1 on q,v, lr 2e-4, 3 epochs, a checkpoint every 25 steps).
  public func trainingConfig(seed: UInt64) throws -> TrainingConfig {
    try (training ?? ExperimentPlan.Training()).applied(to: TaskDefaults.training(.generation(task)), seed: seed)
  }

  /// One cell of the grid.
  public struct Cell: GridCell, Equatable {
    public var dataset: String
    public var attackLabel: String
    public var attack: GenerationAttackConfig
    /// nil: undefended.
    public var defense: GenerationP2P?
    public var seed: UInt64
    public var training: TrainingConfig
    public var spec: GenerationSpec

    public var defenseLabel: String { defense.map { "\($0.variant)(rho=\($0.ratio))" } ?? "none" }
    /// File-system-safe identifier.
    public var key: String {
      let d = defense.map { "\($0.variant)-\($0.ratio)" } ?? "none"
      return String("\(dataset)_\(attackLabel)_\(d)_s\(seed)".map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "-" })
    }
  }

  /// The grid in run order: dataset, attack, seed, defense.
  public func cells() throws -> [Cell] {
    guard !attacks.isEmpty else { throw ExperimentError.invalid(key: "attacks", expected: "at least one attack") }
    let seedList = seeds ?? [42]
    guard !seedList.isEmpty else { throw ExperimentError.invalid(key: "seeds", expected: "at least one seed") }
    if let m = maxNewTokens, m < 1 { throw ExperimentError.invalid(key: "max_new_tokens (\(m))", expected: ">= 1") }
    var out: [Cell] = []
    for dataset in datasets ?? [Self.defaultDataset(for: task)] {
      for a in attacks {
        for seed in seedList {
          let attack = GenerationAttackConfig(attack: a.attack, rate: a.rate ?? 0.1, trigger: a.trigger, payload: a.payload,
                                              multiplier: a.multiplier, count: a.count, backdoorLLMKeywords: a.backdoorLLMKeywords,
                                              seed: seed, trainLimit: trainLimit, testLimit: testLimit)
          try attack.validate(task: task)
          for d in a.defenses ?? defenses ?? ["none", "p2p"] {
            var defense: GenerationP2P?
            let parts = d.split(separator: ":", maxSplits: 1).map(String.init)
            if ["p2p", "p2p-screen", "p2p-cover"].contains(parts[0]) {
              var ratio = p2p?.ratio ?? GenerationP2P.defaultRatio
              if parts.count == 2 {
                guard let r = Double(parts[1]) else { throw ExperimentError.invalid(key: "defenses '\(d)'", expected: "\(parts[0]):RATIO") }
                ratio = r
              }
              let config = GenerationP2P(benignTrigger: p2p?.benignTrigger ?? GenerationP2P.defaultBenignTrigger, ratio: ratio,
                                         mode: p2p?.mode ?? .union, safePrefix: p2p?.safePrefix ?? GenerationP2P.defaultSafePrefix,
                                         screenTriggers: parts[0] != "p2p", coverTriggers: parts[0] == "p2p-cover")
              try config.validate()
              defense = config
            } else if d != "none" {
              throw ExperimentError.invalid(key: "defenses '\(d)'", expected: "none, p2p, p2p-screen or p2p-cover, each optionally with :RATIO (p2p:0.3)")
            }
            let spec = defense.map { GenerationSpec.defended(task, $0, maxNewTokens: maxNewTokens) } ?? .plain(task, maxNewTokens: maxNewTokens)
            out.append(Cell(dataset: dataset, attackLabel: a.label, attack: attack, defense: defense, seed: seed,
                            training: try trainingConfig(seed: seed), spec: spec))
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
