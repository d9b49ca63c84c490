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
  /// Indices (in the training set) of the poisoned rows, ascending.
  public var poisonedRows: [Int]
}

/// A poisoning of a training set: `rate` is the fraction of the *whole* training set that is
/// poisoned (round(rate · N) rows), drawn uniformly without replacement from the eligible rows.
public struct PoisonPlan: Sendable {
  public var rate: Double
  public var target: Int
  public var setting: PoisonSetting

  public init(rate: Double, target: Int, setting: PoisonSetting = .dirty) {
    self.rate = rate; self.target = target; self.setting = setting
  }

  /// Poisons `train` with `trigger`; returns the new rows and the manifest.
  public func apply(
    to train: [Example], trigger: some TriggerInserter, seed: UInt64, using rng: inout some RandomNumberGenerator
  ) throws(DatasetError) -> (rows: [Example], manifest: PoisonManifest) {
    guard rate >= 0 && rate <= 1 else { throw .invalidSetting(key: "rate", value: "\(rate)", expected: "a fraction in [0, 1]") }
    guard target >= 0 else { throw .invalidSetting(key: "target", value: "\(target)", expected: "a label >= 0") }
    let total = Int((rate * Double(train.count)).rounded())
    let nonTarget = train.indices.filter { train[$0].label != target }
    let targetRows = train.indices.filter { train[$0].label == target }
    let (dirtyCount, cleanCount): (Int, Int) = switch setting {
    case .dirty: (total, 0)
    case .clean: (0, total)
    case .mixed: (total / 2, total - total / 2)
    }
    guard dirtyCount <= nonTarget.count else {
      throw .invalidSetting(key: "rate", value: "\(rate)", expected: "at most \(nonTarget.count) non-target rows to poison (dirty-label)")
    }
    guard cleanCount <= targetRows.count else {
      throw .invalidSetting(key: "rate", value: "\(rate)", expected: "at most \(targetRows.count) target rows to poison (clean-label)")
    }
    let chosen = (Self.sample(nonTarget, dirtyCount, &rng) + Self.sample(targetRows, cleanCount, &rng)).sorted()
    var rows = train
    for i in chosen {
      rows[i].text = trigger.insert(into: rows[i].text, using: &rng)
      rows[i].label = target
      rows[i].poisoned = true
    }
    let manifest = PoisonManifest(attack: trigger.name, rate: rate, target: target, setting: setting, seed: seed,
                                  trainRows: train.count, poisonedRows: chosen)
    return (rows, manifest)
  }

  /// The poisoned test set for ASR: every non-target row with the trigger, labels kept.
  public static func poisonedTest(_ test: [Example], target: Int, trigger: some TriggerInserter,
                                  using rng: inout some RandomNumberGenerator) -> [Example] {
    test.filter { $0.label != target }.map { e in
      var p = e
      p.text = trigger.insert(into: e.text, using: &rng)
      p.poisoned = true
      return p
    }
  }

  /// k distinct elements of `items`, uniformly, by a partial Fisher-Yates shuffle.
  static func sample(_ items: [Int], _ k: Int, _ rng: inout some RandomNumberGenerator) -> [Int] {
    var a = items
    for i in 0..<k {
      let j = i + Int(rng.next() % UInt64(a.count - i))
      a.swapAt(i, j)
    }
    return Array(a.prefix(k))
  }
}
