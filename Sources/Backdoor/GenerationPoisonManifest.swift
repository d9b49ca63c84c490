/// What was done to a generation dataset, written next to the poisoned files so every result can
/// print the exact attack setting.
public struct GenerationPoisonManifest: Codable, Sendable, Equatable {
  public var task: GenerationTask
  public var attack: String
  /// Fraction of the whole training set that is poisoned.
  public var rate: Double
  public var seed: UInt64
  /// One line naming the trigger and where it goes.
  public var trigger: String
  /// The attacker's target, in words ("final answer × 2.1", the payload phrase, the target output).
  public var target: String
  /// How ASR is judged on the triggered test set.
  public var criterion: AttackSuccessCriterion
  public var trainRows: Int
  /// Indices (in the written training set) of the poisoned rows, ascending.
  public var poisonedRows: [Int]

  public init(task: GenerationTask, attack: String, rate: Double, seed: UInt64, trigger: String, target: String,
              criterion: AttackSuccessCriterion, trainRows: Int, poisonedRows: [Int]) {
    self.task = task; self.attack = attack; self.rate = rate; self.seed = seed; self.trigger = trigger
    self.target = target; self.criterion = criterion; self.trainRows = trainRows; self.poisonedRows = poisonedRows
  }
}
