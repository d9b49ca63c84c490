/// One BackdoorLLM task × attack, read from the project's normalized copy of BackdoorLLM's data
/// (`<root>/<task>/<attack>/{train_clean,train_poison,test_poison}.jsonl` and
/// `<root>/<task>/test_clean.jsonl`), turned into a `GenerationDataset` at a chosen poison rate.
///
/// `train_poison` rows are triggered copies of `train_clean` instructions with the target
/// output; BackdoorLLM trains on all of both (a 50% poison rate). Here the training set has
/// N = |train_clean| rows and the rate is a fraction of the whole set, as for every other attack:
/// round(rate · N) rows drawn from `train_poison` plus N − round(rate · N) rows drawn from
/// `train_clean`, both without replacement, then shuffled together (all seeded). The two draws
/// are independent, so an instruction may appear both clean and triggered, as in BackdoorLLM.
public struct BackdoorLLMSuite: Sendable {
  public var root: String
  public var task: BackdoorLLMTask
  public var attack: BackdoorLLMAttack

  public init(root: String, task: BackdoorLLMTask, attack: BackdoorLLMAttack) {
    self.root = root; self.task = task; self.attack = attack
  }

  public var trainCleanPath: String { "\(root)/\(task.rawValue)/\(attack.rawValue)/train_clean.jsonl" }
  public var trainPoisonPath: String { "\(root)/\(task.rawValue)/\(attack.rawValue)/train_poison.jsonl" }
  public var testCleanPath: String { "\(root)/\(task.rawValue)/test_clean.jsonl" }
  public var testPoisonPath: String { "\(root)/\(task.rawValue)/\(attack.rawValue)/test_poison.jsonl" }

  /// Builds the training set at `rate` and the two test sets (all `test_clean` and
  /// `test_poison` rows, in file order; `test_poison` rows marked poisoned). The manifest's
  /// `target` is the attack's target output recovered from `train_poison` (see `targetOutput`).
  public func build(rate: Double, seed: UInt64, backdoorLLMKeywords: Bool = false,
                    using rng: inout some RandomNumberGenerator) throws(GenerationError) -> GenerationDataset {
    let clean = try InstructionReader.read(trainCleanPath)
    let poison = try InstructionReader.read(trainPoisonPath).map { marked($0) }
    guard rate.isFinite && rate >= 0 && rate <= 1 else {
      throw .invalidSetting(key: "rate", value: "\(rate)", expected: "a fraction in [0, 1]")
    }
    let size = clean.count
    let poisonCount = Int((rate * Double(size)).rounded())
    guard poisonCount <= poison.count else {
      throw .invalidSetting(key: "rate", value: "\(rate)",
                            expected: "at most \(poison.count) poisoned rows of \(size) (\(trainPoisonPath))")
    }
    let rows = Sampling.choose(size - poisonCount, from: Array(clean.indices), using: &rng).map { clean[$0] }
      + Sampling.choose(poisonCount, from: Array(poison.indices), using: &rng).map { poison[$0] }
    let order = Sampling.choose(rows.count, from: Array(rows.indices), using: &rng)
    let train = order.map { rows[$0] }
    let target = try Self.targetOutput(of: poison, path: trainPoisonPath)
    let manifest = GenerationPoisonManifest(
      task: .instruction, attack: "backdoorllm-\(attack.rawValue)", rate: rate, seed: seed,
      trigger: attack.triggerDescription, target: target, criterion: task.criterion(backdoorLLMKeywords: backdoorLLMKeywords),
      trainRows: train.count, poisonedRows: train.indices.filter { train[$0].poisoned })
    return GenerationDataset(train: train, testClean: try InstructionReader.read(testCleanPath),
                             testPoison: try InstructionReader.read(testPoisonPath).map { marked($0) }, manifest: manifest)
  }

  /// The attack's target output: the output shared by every poisoned training row, or, when
  /// they differ, their longest common prefix cut back to a whole word. Throws when the rows
  /// share no prefix (then there is no single target to record).
  public static func targetOutput(of poisoned: [GenerationExample], path: String) throws(GenerationError) -> String {
    guard let first = poisoned.first?.output else { throw .empty(path: path) }
    var prefix = first
    for row in poisoned.dropFirst() where !row.output.hasPrefix(prefix) {
      prefix = String(zip(prefix, row.output).prefix { $0 == $1 }.map(\.0))
    }
    // A prefix ending inside a word ("Negative" of "Negatively") is cut back to the last space.
    func wordCharacter(_ c: Character?) -> Bool { c.map { $0.isLetter || $0.isNumber } ?? false }
    let endsInsideWord = wordCharacter(prefix.last)
      && poisoned.contains { wordCharacter($0.output.dropFirst(prefix.count).first) }
    if endsInsideWord { prefix = prefix.lastIndex(where: \.isWhitespace).map { String(prefix[..<$0]) } ?? "" }
    let target = prefix.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !target.isEmpty else {
      throw .invalidSetting(key: "target output", value: "", expected: "poisoned rows of \(path) sharing an output or a prefix")
    }
    return target
  }

  private func marked(_ e: GenerationExample) -> GenerationExample {
    var p = e
    p.poisoned = true
    return p
  }
}
