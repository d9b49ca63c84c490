import Backdoor
import Defense
import Evaluation
import FileIO
import Training

/// The grid of a generation-task file (`task:` math, summarization or instruction; the same
/// `ExperimentPlan` as classification files): datasets × attacks × defenses × seeds, each cell a
/// poisoning, a LoRA training run and a greedy-decoding evaluation (task quality and ASR,
/// undefended vs P2P). Keys are snake_case.
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
/// defenses: [none, p2p]      # p2p: the screen and cover (= p2p-cover); "p2p-paper": random benign
///                            # rows; "p2p:0.1" overrides the ratio; "p2p-screen": the trigger screen alone;
///                            # "p2p-cover" also inserts the screened words into half the benign rows
/// seeds: [42]
/// p2p: {ratio: 0.2, mode: union, benign_trigger: "The query currently entered is: ", safe_prefix: "[safe] "}
/// max_new_tokens: 256        # default by task (GenerationSpec)
/// ablation: true             # P2P cells are also decoded without the wrapper
/// training: {epochs: 2, batch_size: 8, lr: 2.0e-4, max_length: 320}
/// ```
extension ExperimentPlan {
  public static func defaultDataset(for task: GenerationTask) -> String {
    switch task {
    case .math: "gsm8k"
    case .summarization: "scitldr"
    case .instruction: "backdoorllm/negsentiment"
    }
  }

  /// One cell of a generation grid.
  public struct GenerationCell: GridCell, Equatable {
    public var dataset: String
    public var attackLabel: String
    public var attack: GenerationAttackConfig
    /// nil: undefended (or a baseline defense).
    public var defense: GenerationP2P?
    /// A baseline defense instead of P2P (`cleangen`, `quantize`, `finetune`, `prune`).
    public var baseline: BaselineDefense?
    public var seed: UInt64
    public var training: TrainingConfig
    public var spec: GenerationSpec

    public var defenseLabel: String { baseline?.name ?? defense.map { "\($0.variant)(rho=\($0.ratio))" } ?? "none" }
    /// File-system-safe identifier.
    public var key: String {
      // The paper's cells keep the key they had before it was named p2p-paper.
      let d = baseline?.name ?? defense.map { "\($0.variant == "p2p-paper" ? "p2p" : $0.variant)-\($0.ratio)" } ?? "none"
      return String("\(dataset)_\(attackLabel)_\(d)_s\(seed)".map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "-" })
    }
  }

  /// The generation grid in run order: dataset, attack, seed, defense.
  public func generationCells() throws -> [GenerationCell] {
    guard let task = generationTask else { throw ExperimentError.invalid(key: "task", expected: "a generation task (math, summarization or instruction)") }
    guard !attacks.isEmpty else { throw ExperimentError.invalid(key: "attacks", expected: "at least one attack") }
    let seedList = seeds ?? [42]
    guard !seedList.isEmpty else { throw ExperimentError.invalid(key: "seeds", expected: "at least one seed") }
    if let m = maxNewTokens, m < 1 { throw ExperimentError.invalid(key: "max_new_tokens (\(m))", expected: ">= 1") }
    var out: [GenerationCell] = []
    for dataset in datasets ?? [Self.defaultDataset(for: task)] {
      for a in attacks {
        for seed in seedList {
          let attack = GenerationAttackConfig(attack: a.attack, rate: a.rate ?? 0.1, trigger: a.trigger, payload: a.payload,
                                              multiplier: a.multiplier, count: a.count, backdoorLLMKeywords: a.backdoorLLMKeywords,
                                              seed: seed, trainLimit: trainLimit, testLimit: testLimit)
          try attack.validate(task: task)
          let list = a.defenses ?? defenses ?? ["none", DefensePreset.defaultPreset.rawValue]
          let names = list.map { $0.split(separator: ":", maxSplits: 1).map(String.init) }.map { $0.first == "p2p" ? ["p2p-cover"] + $0.dropFirst() : $0 }
          guard Set(names).count == names.count else {
            throw ExperimentError.invalid(key: a.defenses != nil ? "attacks[\(a.label)].defenses" : "defenses",
                                          expected: "distinct pipelines (for generation tasks p2p is the screen and cover, the same as p2p-cover)")
          }
          for d in list {
            var defense: GenerationP2P?, baseline: BaselineDefense?
            let parts = d.split(separator: ":", maxSplits: 1).map(String.init)
            let name = parts.first ?? ""
            if ["p2p", "p2p-paper", "p2p-screen", "p2p-cover"].contains(name) {
              var ratio = p2p?.ratio ?? GenerationP2P.defaultRatio
              if parts.count == 2 {
                guard let r = Double(parts[1]) else { throw ExperimentError.invalid(key: "defenses '\(d)'", expected: "\(name):RATIO") }
                ratio = r
              }
              let config = GenerationP2P(benignTrigger: p2p?.benignTrigger ?? GenerationP2P.defaultBenignTrigger, ratio: ratio,
                                         mode: p2p?.mode ?? .union, safePrefix: p2p?.safePrefix ?? GenerationP2P.defaultSafePrefix,
                                         screenTriggers: name != "p2p-paper", coverTriggers: ["p2p", "p2p-cover"].contains(name))
              try config.validate()
              defense = config
            } else if let kind = BaselineKind(rawValue: d), kind.forGeneration {
              baseline = try (baselines ?? Baselines()).defense(kind, seed: seed)
            } else if d != "none" {
              throw ExperimentError.invalid(key: "defenses '\(d)'", expected: "none, p2p (the default: the screen and cover), p2p-paper, p2p-screen or p2p-cover, each optionally with :RATIO (p2p:0.3), or a baseline for generation (cleangen, quantize, finetune, prune)")
            }
            let spec = defense.map { GenerationSpec.defended(task, $0, maxNewTokens: maxNewTokens) } ?? .plain(task, maxNewTokens: maxNewTokens)
            let training = try (self.training ?? Training()).applied(to: TaskDefaults.training(.generation(task)), seed: seed)
            out.append(GenerationCell(dataset: dataset, attackLabel: a.label, attack: attack, defense: defense, baseline: baseline, seed: seed,
                                      training: training, spec: spec))
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
