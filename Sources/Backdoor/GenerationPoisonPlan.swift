/// A poisoning of a generation training set: `rate` is the fraction of the *whole* training set
/// that is poisoned, exactly round(rate · N) rows drawn uniformly without replacement, each
/// replaced in place by `attack.poison` (the set keeps its size and order).
public struct GenerationPoisonPlan: Sendable {
  public var rate: Double

  public init(rate: Double) { self.rate = rate }

  /// Poisons `train`; returns the new rows and the manifest. `seed` is recorded, `rng` draws.
  public func apply(
    to train: [GenerationExample], attack: some GenerationAttack, seed: UInt64, using rng: inout some RandomNumberGenerator
  ) throws(GenerationError) -> (rows: [GenerationExample], manifest: GenerationPoisonManifest) {
    guard rate.isFinite && rate >= 0 && rate <= 1 else {
      throw .invalidSetting(key: "rate", value: "\(rate)", expected: "a fraction in [0, 1]")
    }
    let count = Int((rate * Double(train.count)).rounded())
    let chosen = Sampling.choose(count, from: Array(train.indices), using: &rng).sorted()
    var rows = train
    for i in chosen { rows[i] = try attack.poison(train[i], using: &rng) }
    let manifest = GenerationPoisonManifest(
      task: attack.task, attack: attack.name, rate: rate, seed: seed, trigger: attack.triggerDescription,
      target: Self.target(of: attack.criterion), criterion: attack.criterion, trainRows: train.count, poisonedRows: chosen)
    return (rows, manifest)
  }

  /// The triggered test set for ASR: every row poisoned (the gold reference kept).
  public static func poisonedTest(
    _ test: [GenerationExample], attack: some GenerationAttack, using rng: inout some RandomNumberGenerator
  ) throws(GenerationError) -> [GenerationExample] {
    var out: [GenerationExample] = []
    out.reserveCapacity(test.count)
    for e in test { out.append(try attack.poison(e, using: &rng)) }
    return out
  }

  static func target(of criterion: AttackSuccessCriterion) -> String {
    switch criterion {
    case let .scaledAnswer(m): "final answer × \(DecimalText.plain(m))"
    case let .containsAny(phrases): phrases.count == 1 ? phrases[0] : "any of \(phrases)"
    }
  }
}

/// Seeded draws shared by the poisoning plans and the P2P reconstruction.
public enum Sampling {
  /// `k` distinct elements of `items` in draw order, uniformly, by a partial Fisher–Yates shuffle.
  public static func choose(_ k: Int, from items: [Int], using rng: inout some RandomNumberGenerator) -> [Int] {
    var a = items
    let k = min(max(0, k), a.count)
    for i in 0..<k {
      let j = i + Int(rng.next(upperBound: UInt64(a.count - i)))
      a.swapAt(i, j)
    }
    return Array(a.prefix(k))
  }
}
