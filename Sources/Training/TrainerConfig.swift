/// Hyper-parameters of a LoRA fine-tuning run (defaults: the official P2P code's settings,
/// DESIGN.md §3, except the batch size, which `p2p train` sets from its flag).
public struct TrainingConfig: Codable, Sendable, Equatable {
  public var epochs = 3
  public var batchSize = 8
  public var gradientAccumulation = 1
  public var learningRate: Float = 2e-4
  public var weightDecay: Float = 0
  public var schedule: LearningRateSchedule = .linear
  public var warmupSteps = 0
  /// Clip the global gradient norm to this value; 0 disables clipping.
  public var maxGradientNorm: Float = 1
  public var maxLength = 128
  public var seed: UInt64 = 42
  public var lora = LoRAConfig(rank: 16, alpha: 16, dropout: 0.1, targets: [.q, .v])
  /// Write a checkpoint every this many optimizer steps (0 = only at the end of each epoch).
  public var checkpointEvery = 0

  public init() {}

  public func validate() throws(TrainingError) {
    func check(_ ok: Bool, _ key: String, _ value: Any, _ expected: String) throws(TrainingError) {
      if !ok { throw .invalidValue(key: key, value: "\(value)", expected: expected) }
    }
    try check(epochs >= 1, "epochs", epochs, ">= 1")
    try check(batchSize >= 1, "batch-size", batchSize, ">= 1")
    try check(gradientAccumulation >= 1, "gradient-accumulation", gradientAccumulation, ">= 1")
    try check(learningRate > 0 && learningRate.isFinite, "lr", learningRate, "> 0")
    try check(weightDecay >= 0, "weight-decay", weightDecay, ">= 0")
    try check(warmupSteps >= 0, "warmup-steps", warmupSteps, ">= 0")
    try check(maxGradientNorm >= 0, "max-grad-norm", maxGradientNorm, ">= 0")
    try check(maxLength >= 2, "max-length", maxLength, ">= 2")
    try check(checkpointEvery >= 0, "checkpoint-every", checkpointEvery, ">= 0")
    try lora.validate()
  }
}

/// What a training run reports while it works (the CLI renders these; the library never prints).
public enum TrainingEvent: Sendable {
  case started(totalSteps: Int, examples: Int, parameters: Int, resumedAtStep: Int)
  case step(TrainingProgress)
  case epochFinished(epoch: Int, meanLoss: Double)
  case checkpointSaved(path: String, step: Int)
}

public struct TrainingProgress: Sendable {
  public var step: Int
  public var totalSteps: Int
  public var epoch: Int
  public var epochs: Int
  public var loss: Double
  public var learningRate: Float
  public var gradientNorm: Double
  public var tokensPerSecond: Double
  public var elapsedSeconds: Double
  public var etaSeconds: Double
}

/// Result of a finished run.
public struct TrainingSummary: Codable, Sendable {
  public var steps: Int
  public var epochs: Int
  public var finalLoss: Double
  public var lossHistory: [LossRecord]
  /// Tokens trained on and training time (seconds) from step `timedFromStep` to the end, summed
  /// over the runs of a resumed training (steps redone after an interruption count once: the
  /// time since the last checkpoint of an interrupted run is not counted).
  public var trainedTokens: Int
  public var seconds: Double
  /// 0 when `seconds` covers every step; the step a resumed run started from when the checkpoint
  /// it resumed had no time recorded (written by an older build); nil in summaries of older builds.
  public var timedFromStep: Int?
}
