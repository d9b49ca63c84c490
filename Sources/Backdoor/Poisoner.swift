import Foundation
import TensorCore

/// The classification attacks the toolkit runs. The last three are the adaptive attackers of
/// the defense issue: `manywords` (many rare words, each below the word screen's threshold),
/// `benigntrigger` (the poisoned rows start with the defender's benign trigger phrase) and
/// `benignparaphrase` (they start with a paraphrase of it); a 30% poison rate is `rate: 0.3`.
public enum AttackKind: String, Codable, Sendable, CaseIterable {
  case badnets, addsent, synbkd, stylebkd, custom, manywords, benigntrigger, benignparaphrase

  public var isParaphrase: Bool { self == .synbkd || self == .stylebkd }
}

/// Everything that defines one poisoning, as printed in manifests and reports.
public struct AttackConfig: Codable, Sendable, Equatable {
  public var attack: AttackKind
  /// Fraction of the (possibly subset) training set that is poisoned.
  public var rate: Double
  public var target: Int
  public var setting: PoisonSetting
  /// BadNets: comma-separated words (default `mn`); AddSent: the sentence; custom: the trigger
  /// text; SynBkd/StyleBkd: a folder with `train_pairs.tsv`/`test_pairs.tsv` (default: built-in).
  public var trigger: String?
  /// BadNets insertions per row.
  public var count: Int
  public var placement: CustomTrigger.Placement
  public var seed: UInt64
  /// Training subset size (nil: the whole training file).
  public var trainLimit: Int?
  /// Clean test subset size (nil: the whole test file); the triggered set is built from it.
  public var testLimit: Int?
  /// The training set re-drawn with these label shares before poisoning (one fraction per label,
  /// summing to 1; `LabelShares`): e.g. [0.75, 0.25] for an imbalanced SST-2. The dev split is
  /// re-drawn with them too (as many rows as the shares allow, at most the test limit); the test
  /// sets keep the file's shares. nil: the files' own shares.
  public var labelShares: [Double]?

  public init(attack: AttackKind, rate: Double = 0.1, target: Int = 1, setting: PoisonSetting = .dirty, trigger: String? = nil,
              count: Int = 1, placement: CustomTrigger.Placement = .random, seed: UInt64 = 42, trainLimit: Int? = nil,
              testLimit: Int? = nil, labelShares: [Double]? = nil) {
    self.attack = attack; self.rate = rate; self.target = target; self.setting = setting; self.trigger = trigger
    self.count = count; self.placement = placement; self.seed = seed; self.trainLimit = trainLimit; self.testLimit = testLimit
    self.labelShares = labelShares
  }
}

/// Builds a poisoned dataset (training set, clean test set, triggered test set, manifest) from a
/// built-in dataset or a path; a pure function of its inputs and the seed.
public enum Poisoner {
  public static func poison(dataset: String, config: AttackConfig, root: String?) throws(DatasetError) -> PoisonedDataset {
    try validate(config)
    let resolved = try DatasetCatalog.resolve(dataset, root: root)
    var train = try DatasetReader.read(resolved.trainPath)
    var test = try DatasetReader.read(resolved.testPath)
    let labels = LabelSet(train: train, names: resolved.labelNames)
    try labels.validate(train, path: resolved.trainPath)
    try labels.validate(test, path: resolved.testPath)
    try LabelSet.requireTwoLabels(train, path: resolved.trainPath)
    try labels.validate(target: config.target)
    var rng = SeededRNG(seed: config.seed)
    let (trainTrigger, testTrigger, triggerText) = try triggers(config, resolved: resolved, train: train)
    var limit = config.trainLimit
    let sourceRows = train.count
    if let shares = config.labelShares {
      // Its own stream: the re-drawn subset, then the poisoning of it as of any training file.
      var shareRNG = SeededRNG(seed: config.seed ^ 0x5EA2_E5)
      train = try LabelShares(shares).draw(from: train, rows: min(limit ?? train.count, train.count), labels: labels.count,
                                           path: resolved.trainPath, using: &shareRNG)
      limit = nil
    }
    let plan = PoisonPlan(rate: config.rate, target: config.target, setting: config.setting, limit: limit)
    var (rows, manifest) = try plan.apply(to: train, trigger: trainTrigger, seed: config.seed, using: &rng)
    if config.labelShares != nil { manifest.sourceTrainRows = sourceRows }
    if let limit = config.testLimit {
      guard limit >= 1 else { throw .invalidSetting(key: "test limit", value: "\(limit)", expected: "at least 1 row") }
      // Its own stream, so every attack with the same seed is measured on the same clean rows.
      var testRNG = SeededRNG(seed: config.seed ^ 0x7E57_5E7)
      if limit < test.count { test = PoisonPlan.sample(Array(test.indices), limit, &testRNG).sorted().map { test[$0] } }
    }
    let poisonTest = PoisonPlan.poisonedTest(test, target: config.target, trigger: testTrigger, using: &rng)
    guard !poisonTest.isEmpty else {
      throw .invalidSetting(key: "attack", value: config.attack.rawValue, expected: "test rows the trigger applies to (none are non-target and paired)")
    }
    // The clean dev file, subsampled like the test set (its own stream) when a test limit is set,
    // and re-drawn with the training set's label shares when those are set.
    var dev: [Example]?
    if let devPath = resolved.devPath {
      var rows = try DatasetReader.read(devPath)
      try labels.validate(rows, path: devPath)
      var devRNG = SeededRNG(seed: config.seed ^ 0xDE7_5E7)
      if let shares = config.labelShares {
        // A training set with other label shares stands for data that has them: its dev split has them too.
        let n = LabelShares(shares).largestDraw(from: rows, limit: config.testLimit ?? rows.count)
        guard n > 0 else { throw .invalidSetting(key: "label shares", value: "\(shares)", expected: "dev rows of every label with a share (\(devPath))") }
        rows = try LabelShares(shares).draw(from: rows, rows: n, labels: labels.count, path: devPath, using: &devRNG)
      } else if let limit = config.testLimit, limit < rows.count {
        rows = PoisonPlan.sample(Array(rows.indices), limit, &devRNG).sorted().map { rows[$0] }
      }
      dev = rows
    }
    manifest.attack = config.attack.rawValue
    manifest.dataset = dataset
    manifest.trigger = triggerText
    manifest.testCleanRows = test.count
    manifest.testPoisonRows = poisonTest.count
    return PoisonedDataset(train: rows, testClean: test, testPoison: poisonTest, manifest: manifest, dev: dev)
  }

  /// The most trigger insertions per row (BadNets `count`): more only grows the rows.
  public static let maxTriggerCount = 32

  /// Checks the configuration's numbers before any file is read.
  public static func validate(_ c: AttackConfig) throws(DatasetError) {
    guard c.rate >= 0 && c.rate <= 1 else { throw .invalidSetting(key: "rate", value: "\(c.rate)", expected: "a fraction in [0, 1]") }
    guard c.count >= 1 && c.count <= maxTriggerCount else {
      throw .invalidSetting(key: "count", value: "\(c.count)", expected: "trigger insertions per row, 1...\(maxTriggerCount)")
    }
    guard c.target >= 0 && c.target <= DatasetReader.maxLabel else {
      throw .invalidSetting(key: "target", value: "\(c.target)", expected: "a label 0...\(DatasetReader.maxLabel)")
    }
    if let l = c.trainLimit, l < 1 { throw .invalidSetting(key: "train limit", value: "\(l)", expected: "at least 1 row") }
    if let l = c.testLimit, l < 1 { throw .invalidSetting(key: "test limit", value: "\(l)", expected: "at least 1 row") }
  }

  /// The training and test triggers (they differ only for paraphrase attacks, whose pairs files
  /// are per split) and the trigger as recorded in the manifest.
  static func triggers(_ c: AttackConfig, resolved: DatasetCatalog.Resolved, train: [Example]) throws(DatasetError)
    -> (any TriggerInserter, any TriggerInserter, String)
  {
    switch c.attack {
    case .manywords:
      // As many words as keep each below the word screen's threshold on the (subset) training set.
      let rows = min(c.trainLimit ?? train.count, train.count), poisoned = Int((c.rate * Double(rows)).rounded())
      var vocabulary = Set<String>()
      for e in train { for w in e.text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }) { vocabulary.insert(String(w)) } }
      let words = ManyWords.words(ManyWords.wordCount(poisonedRows: poisoned, rows: rows), avoiding: vocabulary, seed: c.seed)
      return (ManyWords(words: words), ManyWords(words: words), words.joined(separator: ","))
    case .benigntrigger, .benignparaphrase:
      let phrase = c.trigger ?? (c.attack == .benigntrigger ? BenignTriggerText.official : BenignTriggerText.paraphrase)
      guard !phrase.trimmingCharacters(in: .whitespaces).isEmpty else {
        throw .invalidSetting(key: "trigger", value: phrase, expected: "the phrase the poisoned rows start with")
      }
      let t = CustomTrigger(text: phrase.trimmingCharacters(in: .whitespaces), placement: .prefix)
      return (t, t, "\(t.text) (prefix)")
    case .badnets:
      let words = (c.trigger ?? "mn").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      guard !words.isEmpty else { throw .invalidSetting(key: "trigger", value: c.trigger ?? "", expected: "comma-separated trigger words") }
      guard c.count >= 1 else { throw .invalidSetting(key: "count", value: "\(c.count)", expected: ">= 1") }
      let t = BadNets(words: words, count: c.count)
      return (t, t, words.joined(separator: ",") + (c.count > 1 ? " x\(c.count)" : ""))
    case .addsent:
      let t = AddSent(sentence: c.trigger ?? AddSent().sentence)
      return (t, t, t.sentence)
    case .custom:
      guard let text = c.trigger, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
        throw .invalidSetting(key: "trigger", value: c.trigger ?? "", expected: "the custom trigger text")
      }
      let t = CustomTrigger(text: text, placement: c.placement)
      return (t, t, "\(text) (\(c.placement.rawValue))")
    case .synbkd, .stylebkd:
      guard let folder = c.trigger ?? resolved.paraphrases[c.attack] else {
        throw .invalidSetting(key: "attack", value: c.attack.rawValue,
                              expected: "a built-in dataset with \(c.attack.rawValue) pairs, or --trigger DIR holding train_pairs.tsv and test_pairs.tsv")
      }
      let trainPairs = folder + "/train_pairs.tsv", testPairs = folder + "/test_pairs.tsv"
      let testTrigger = ParaphraseAttack(name: c.attack.rawValue, source: testPairs, pairs: try ParaphrasePairsReader.read(testPairs))
      let trainTrigger: ParaphraseAttack
      if FileManager.default.fileExists(atPath: trainPairs) {
        trainTrigger = ParaphraseAttack(name: c.attack.rawValue, source: trainPairs, pairs: try ParaphrasePairsReader.read(trainPairs))
      } else if c.rate == 0 {
        trainTrigger = ParaphraseAttack(name: c.attack.rawValue, source: trainPairs, pairs: [])
      } else {
        throw .cannotRead(path: trainPairs, reason: "no training pairs for \(c.attack.rawValue) here (only a triggered test set); use rate 0")
      }
      return (trainTrigger, testTrigger, folder)
    }
  }
}
