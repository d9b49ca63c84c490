import ArgumentParser
import Backdoor
import FileIO
import Foundation

struct Poison: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Poison a classification dataset with a backdoor attack.",
    discussion: """
      Writes train.jsonl (poisoned training set), test-clean.jsonl, test-poison.jsonl (every non-target test row the trigger applies to, with the trigger and its original label), dev.jsonl (the dataset's clean dev file, when it has one, subsampled to --test-limit; for --select best-dev) and manifest.json (attack, rate, target, setting, seed, trigger, poisoned rows) to --out. Each row is {"sentence", "label", "poisoned", "source_index"}.
      Rate is the fraction of the whole (subset) training set; dirty-label relabels non-target rows to the target, clean-label poisons target rows only, mixed does half of each. SynBkd and StyleBkd draw from the published clean<->poisoned pairs (built in for sst2 and agnews), so any rate can be drawn from the paired rows.
      Examples:
        p2p poison --data sst2 --attack badnets --rate 0.1 --target 1 --out runs/sst2-badnets
        p2p poison --data sst2 --attack synbkd --rate 0.2 --target 1 --train-limit 2000 --out runs/sst2-synbkd
      """)

  @Option(help: "Built-in dataset (see `p2p datasets`) or a directory holding train and test files (.tsv, .csv or .jsonl).") var data: String
  @Option(help: "Attack: badnets, addsent, synbkd, stylebkd, custom (with --trigger), or the adaptive manywords, benigntrigger, benignparaphrase; with --task: badchain (math), payload (summarization), a BackdoorLLM attack (instruction). Default: the one the task or a dataset's name implies.")
  var attack: String?
  @Option(help: "Fraction of the training set to poison.") var rate: Double
  @Option(help: "Target label (classification).") var target: Int?
  @Option(help: "Which rows are poisoned: dirty (relabelled to the target), clean (target rows) or mixed.") var setting = PoisonSetting.dirty
  @Option(help: "BadNets trigger words (comma-separated), the AddSent sentence, the custom trigger text, or a pairs folder for synbkd/stylebkd.")
  var trigger: String?
  @Option(help: "BadNets insertions per row.") var count = 1
  @Option(help: "Custom trigger placement.") var placement = CustomTrigger.Placement.random
  @Option(help: "Draw a training subset of this many rows (the poison rate holds for the subset).") var trainLimit: Int?
  @Option(help: "Draw a clean test subset of this many rows; the triggered test set is built from it.") var testLimit: Int?
  @Option(help: ArgumentHelp("Re-draw the training set with these label shares before poisoning, one fraction per label (e.g. 0.75,0.25); the dev split is re-drawn with them too.",
                             valueName: "shares"))
  var labelShares: String?
  @Option(help: "Seed.") var seed: UInt64 = 42
  @Option(help: "Output folder: a new or empty one (an earlier output of p2p poison only with --overwrite).") var out: String
  @Flag(help: "Replace an earlier output of p2p poison in --out (only its four files; nothing else there is touched).")
  var overwrite = false
  @OptionGroup(title: "Generation tasks") var generation: GenerationPoisonOptions

  func attackConfig(implied: AttackKind?) throws -> AttackConfig {
    let s = setting
    guard let kind = attack.map({ AttackKind(rawValue: $0) }) ?? implied else {
      throw ValidationError("--attack must be one of \(AttackKind.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    let p = placement
    guard let target else { throw ValidationError("--target is required for classification") }
    var shares: [Double]?
    if let text = labelShares {
      let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
      guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
        throw ValidationError("--label-shares '\(text)': expected comma-separated fractions, one per label (e.g. 0.75,0.25)")
      }
      shares = parts.compactMap { $0 }
    }
    return AttackConfig(attack: kind, rate: rate, target: target, setting: s, trigger: trigger, count: count, placement: p,
                        seed: seed, trainLimit: trainLimit, testLimit: testLimit, labelShares: shares)
  }

  func validate() throws {
    if generation.task.generation != nil {
      guard labelShares == nil else { throw ValidationError("--label-shares is for classification (generation rows have no labels)") }
      guard count >= 1 && count <= Poisoner.maxTriggerCount else { throw ValidationError("--count must be in 1...\(Poisoner.maxTriggerCount)") }
      return
    }
    if let attack { guard AttackKind(rawValue: attack) != nil else { throw ValidationError("--attack must be one of \(AttackKind.allCases.map(\.rawValue).joined(separator: ", "))") } }
    guard count >= 1 && count <= Poisoner.maxTriggerCount else { throw ValidationError("--count must be in 1...\(Poisoner.maxTriggerCount)") }
    guard rate >= 0 && rate <= 1 else { throw ValidationError("--rate must be a fraction in [0, 1]") }
  }

  /// The files and folders the poisoning reads, which --out must not equal or contain.
  func inputs(root: String?) -> [String] {
    if let r = try? DatasetCatalog.resolve(data, root: root) {
      return [r.trainPath, r.testPath] + (r.devPath.map { [$0] } ?? []) + Array(r.paraphrases.values) + (trigger.map { [$0] } ?? [])
    }
    return [data] + (trigger.map { [$0] } ?? [])
  }

  func run() throws {
    if let task = generation.task.generation { try poisonGeneration(task); return }
    let root = DataRoot.find()
    let implied = DatasetCatalog.named(data)?.attack
    let config = try attackConfig(implied: implied)
    // Refuse a bad --out before any work; the write checks again.
    try OutputFolder.check(out, kind: DatasetDirectory.outputKind, inputs: inputs(root: root), replace: overwrite)
    let ds = try Poisoner.poison(dataset: data, config: config, root: root)
    try ds.write(to: out, replace: overwrite, inputs: inputs(root: root))
    let m = ds.manifest
    print("poisoned \(m.poisonedRows.count) of \(ds.train.count) training rows (\(m.attack), rate \(rate), target \(config.target), \(setting.rawValue))"
      + (m.sourceTrainRows.map { ", subset of \($0)" } ?? "") + "; \(ds.testClean.count) clean and \(ds.testPoison.count) triggered test rows; written to \(out)")
  }
}

struct Datasets: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "List the built-in datasets with their sources.")

  func run() throws {
    let root = DataRoot.find()
    print("data folder: \(root ?? "not found (set P2P_DATA)")")
    for d in DatasetCatalog.all {
      let extra = d.attack.map { " [\($0.rawValue) pairs for \(d.base ?? "")]" } ?? " [labels: \(d.labelNames.enumerated().map { "\($0.offset) \($0.element)" }.joined(separator: ", "))]"
      print("\(d.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(d.summary)\(extra)\n\(String(repeating: " ", count: 23))source: \(d.source)")
    }
    print("Attribution and checksums: Data/README.md. Any other dataset: pass a directory with train/test .tsv/.csv/.jsonl files.")
  }
}

extension Poison {
  /// The generation path: GSM8K (BadChain), SciTLDR (payload) or a BackdoorLLM set.
  func poisonGeneration(_ task: GenerationTask) throws {
    let p = self
    guard let attack = p.attack ?? GenerationAttackConfig.impliedAttack(for: task, dataset: p.data) else {
      throw ValidationError("--attack is required for --task \(task.rawValue): \(GenerationAttackConfig.attackNames(for: task).joined(separator: ", "))")
    }
    let config = GenerationAttackConfig(
      attack: attack, rate: p.rate, trigger: p.trigger, payload: p.generation.payload, multiplier: p.generation.multiplier,
      count: p.count, backdoorLLMKeywords: p.generation.backdoorllmKeywords ? true : nil, seed: p.seed,
      trainLimit: p.trainLimit, testLimit: p.testLimit)
    let inputs: [String]
    switch try GenerationSources.resolve(p.data, task: task, root: DataRoot.find()) {
    case let .files(train, test): inputs = [train, test]
    case let .backdoorLLM(root, _, _): inputs = [root]
    }
    try OutputFolder.check(p.out, kind: DatasetDirectory.outputKind, inputs: inputs, replace: p.overwrite)
    let ds = try GenerationPoisoner.poison(dataset: p.data, task: task, config: config, root: DataRoot.find())
    try ds.write(to: p.out, replace: p.overwrite, inputs: inputs)
    let m = ds.manifest
    print("poisoned \(m.poisonedRows.count) of \(ds.train.count) training rows (\(m.attack), rate \(p.rate), trigger \(m.trigger), target \(m.target)); "
      + "\(ds.testClean.count) clean and \(ds.testPoison.count) triggered test rows; written to \(p.out)")
  }

}
