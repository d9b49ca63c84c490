/// How poisoned rows are chosen and labelled.
///
/// - dirty: rows whose label is not the target get the trigger and are relabelled to the target
///   (BadNets/AddSent as usually run);
/// - clean: rows that already have the target label get the trigger, labels untouched;
/// - mixed: half of the poisoned rows (rounded down) dirty, the rest clean.
public enum PoisonSetting: String, Codable, Sendable, CaseIterable { case dirty, clean, mixed }

/// What was done to a dataset, written next to the poisoned files.
public struct PoisonManifest: Codable, Sendable, Equatable {
  public var attack: String
  public var rate: Double
  public var target: Int
  public var setting: PoisonSetting
  public var seed: UInt64
  public var trainRows: Int
  /// Indices (in the written training set) of the poisoned rows, ascending.
  public var poisonedRows: [Int]
  /// Built-in dataset name or path the rows came from.
  public var dataset: String?
  /// The trigger as configured (word list, sentence, or the pairs file of a paraphrase attack).
  public var trigger: String?
  /// Rows in the source training file when a subset was drawn (nil: the whole file was used).
  public var sourceTrainRows: Int?
  /// Clean and triggered test rows written.
  public var testCleanRows: Int?
  public var testPoisonRows: Int?

  public init(attack: String, rate: Double, target: Int, setting: PoisonSetting, seed: UInt64, trainRows: Int,
              poisonedRows: [Int], dataset: String? = nil, trigger: String? = nil, sourceTrainRows: Int? = nil) {
    self.attack = attack; self.rate = rate; self.target = target; self.setting = setting; self.seed = seed
    self.trainRows = trainRows; self.poisonedRows = poisonedRows; self.dataset = dataset; self.trigger = trigger
    self.sourceTrainRows = sourceTrainRows
  }
}

/// A poisoning of a training set: `rate` is the fraction of the *whole* training set that is
/// poisoned (round(rate · N) rows), drawn uniformly without replacement from the eligible rows
/// (rows the trigger can be applied to: every row for inserted triggers, the paired rows for
/// paraphrase attacks).
///
/// With `limit`, a training subset of N = limit rows is drawn: the round(rate · N) poisoned rows
/// are drawn from the eligible rows of the whole file, the other N − k rows uniformly from the
/// remaining rows, and the subset keeps file order. The poison rate of the subset is exact.
public struct PoisonPlan: Sendable {
  public var rate: Double
  public var target: Int
  public var setting: PoisonSetting
  public var limit: Int?

  public init(rate: Double, target: Int, setting: PoisonSetting = .dirty, limit: Int? = nil) {
    self.rate = rate; self.target = target; self.setting = setting; self.limit = limit
  }

  /// Poisons `train` with `trigger`; returns the new rows and the manifest.
  public func apply(
    to train: [Example], trigger: some TriggerInserter, seed: UInt64, using rng: inout some RandomNumberGenerator
  ) throws(DatasetError) -> (rows: [Example], manifest: PoisonManifest) {
    guard rate >= 0 && rate <= 1 else { throw .invalidSetting(key: "rate", value: "\(rate)", expected: "a fraction in [0, 1]") }
    guard target >= 0 else { throw .invalidSetting(key: "target", value: "\(target)", expected: "a label >= 0") }
    if let limit, limit < 1 { throw .invalidSetting(key: "limit", value: "\(limit)", expected: "at least 1 training row") }
    let n = min(limit ?? train.count, train.count)
    let total = Int((rate * Double(n)).rounded())
    let eligible = train.indices.filter { trigger.canInsert(into: train[$0].text) }
    let nonTarget = eligible.filter { train[$0].label != target }
    let targetRows = eligible.filter { train[$0].label == target }
    let (dirtyCount, cleanCount): (Int, Int) = switch setting {
    case .dirty: (total, 0)
    case .clean: (0, total)
    case .mixed: (total / 2, total - total / 2)
    }
    guard dirtyCount <= nonTarget.count else {
      throw .invalidSetting(key: "rate", value: "\(rate)",
                            expected: "at most \(nonTarget.count) eligible non-target rows to poison (dirty-label); \(dirtyCount) needed")
    }
    guard cleanCount <= targetRows.count else {
      throw .invalidSetting(key: "rate", value: "\(rate)",
                            expected: "at most \(targetRows.count) eligible target rows to poison (clean-label); \(cleanCount) needed")
    }
    let chosen = Self.sample(nonTarget, dirtyCount, &rng) + Self.sample(targetRows, cleanCount, &rng)
    var keep = Array(train.indices)
    if n < train.count {
      let chosenSet = Set(chosen)
      keep = (chosen + Self.sample(train.indices.filter { !chosenSet.contains($0) }, n - chosen.count, &rng)).sorted()
    }
    let poisonSet = Set(chosen)
    var rows: [Example] = [], poisonedRows: [Int] = []
    rows.reserveCapacity(keep.count)
    for i in keep {
      var r = train[i]
      if poisonSet.contains(i) {
        r.text = trigger.insert(into: r.text, using: &rng)
        r.label = target
        r.poisoned = true
        poisonedRows.append(rows.count)
      }
      rows.append(r)
    }
    let manifest = PoisonManifest(attack: trigger.name, rate: rate, target: target, setting: setting, seed: seed,
                                  trainRows: rows.count, poisonedRows: poisonedRows,
                                  sourceTrainRows: n < train.count ? train.count : nil)
    return (rows, manifest)
  }

  /// The poisoned test set for ASR: every non-target row with the trigger, labels kept.
  /// Rows the trigger cannot be applied to (unpaired rows of a paraphrase attack) are left out.
  public static func poisonedTest(_ test: [Example], target: Int, trigger: some TriggerInserter,
                                  using rng: inout some RandomNumberGenerator) -> [Example] {
    test.filter { $0.label != target && trigger.canInsert(into: $0.text) }.map { e in
      var p = e
      p.text = trigger.insert(into: e.text, using: &rng)
      p.poisoned = true
      return p
    }
  }

  /// k distinct elements of `items`, uniformly, by a partial Fisher-Yates shuffle.
  public static func sample(_ items: [Int], _ k: Int, _ rng: inout some RandomNumberGenerator) -> [Int] {
    var a = items
    for i in 0..<k {
      let j = i + Int(rng.next() % UInt64(a.count - i))
      a.swapAt(i, j)
    }
    return Array(a.prefix(k))
  }
}
