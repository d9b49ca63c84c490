import Foundation
import Llama
import TensorCore

/// The LoRA training loop: seeded data order, packed micro-batches with loss masks, gradient
/// accumulation, AdamW with a schedule and clipping, progress events, atomic checkpoints every
/// N steps and exact resumption (same final loss as an uninterrupted run with the same seed).
public final class Trainer {
  public let model: TrainableModel
  public let examples: [TokenizedExample]
  public let config: TrainingConfig
  /// Where checkpoints go (`<dir>/checkpoint`); nil disables them.
  public let checkpointDirectory: String?

  /// `initialAdapter`: start from these adapter weights (same rank and targets) instead of the
  /// seeded initialization, e.g. to fine-tune a trained adapter further.
  public init(base: LlamaModel, examples: [TokenizedExample], config: TrainingConfig, checkpointDirectory: String?,
              initialAdapter: LoRAParameters? = nil) throws(TrainingError) {
    try config.validate()
    guard !examples.isEmpty else { throw .invalidValue(key: "data", value: "0 examples", expected: "at least one training example") }
    let lora = LoRAParameters(model: base.config, lora: config.lora)
    var rng = SeededRNG(seed: config.seed)
    lora.initialize(using: &rng)
    if let initial = initialAdapter {
      guard initial.config.rank == lora.config.rank, initial.config.scaling == lora.config.scaling, initial.config.targets == lora.config.targets,
            initial.slots == lora.slots else {
        throw .invalidValue(key: "initial adapter", value: "rank \(initial.config.rank), alpha \(initial.config.alpha) on \(initial.config.targets.map(\.rawValue).joined(separator: ","))",
                            expected: "rank \(lora.config.rank), alpha \(lora.config.alpha) on \(lora.config.targets.map(\.rawValue).joined(separator: ",")), as the training settings")
      }
      lora.values.pointer.update(from: initial.values.pointer, count: lora.count)
    }
    model = TrainableModel(base: base, lora: lora)
    self.examples = examples
    self.config = config
    self.checkpointDirectory = checkpointDirectory.map { $0 + "/checkpoint" }
  }

  public var lora: LoRAParameters { model.lora }

  /// `stamp(examples)`, computed once (every checkpoint records it).
  private lazy var examplesStamp = Self.stamp(examples)

  /// FNV-1a (64 bit) over the rows in order: count, then each row's length, tokens and loss mask.
  public static func stamp(_ examples: [TokenizedExample]) -> String {
    var h = FNV1a64()
    h.add(examples.count)
    for e in examples {
      h.add(e.tokens.count)
      for t in e.tokens { h.add(t) }
      for m in e.lossMask { h.add(m ? 1 : 0) }
    }
    return h.hex
  }

  /// Optimizer steps per epoch and in total.
  public var stepsPerEpoch: Int {
    let batches = (examples.count + config.batchSize - 1) / config.batchSize
    return (batches + config.gradientAccumulation - 1) / config.gradientAccumulation
  }

  public var totalSteps: Int { stepsPerEpoch * config.epochs }

  /// Runs (or, with `resume`, continues) training. `stopAfterSteps` ends the run early after
  /// that many optimizer steps in total (used to test resumption).
  /// `epochEnd(e)` runs after the last step of epoch e and before that epoch's checkpoint is
  /// written, so whatever it saves (e.g. the epoch's adapter for model selection) exists whenever
  /// a checkpoint says the epoch is done.
  public func run(resume: Bool = false, stopAfterSteps: Int? = nil, progress: (TrainingEvent) -> Void = { _ in },
                  epochEnd: (Int) throws(TrainingError) -> Void = { _ in }) throws(TrainingError) -> TrainingSummary {
    let plan = try BatchPlan(exampleCount: examples.count, batchSize: config.batchSize, seed: config.seed)
    let optimizer = AdamW(config: AdamWConfig(learningRate: config.learningRate, weightDecay: config.weightDecay),
                          parameterCount: lora.count)
    var rng = SeededRNG(seed: config.seed &+ 0x5EED)
    var step = 0, epoch = 0, position = 0
    var history: [LossRecord] = []
    var priorSeconds = 0.0, priorTokens = 0, timedFrom = 0
    if resume, let dir = checkpointDirectory {
      try Checkpoint<TrainingConfig>.recover(dir)
      if Checkpoint<TrainingConfig>.exists(at: dir) {
        let cp = try Checkpoint<TrainingConfig>.load(from: dir)
        guard cp.state.configuration == config else {
          throw .corruptCheckpoint(path: dir, key: "configuration", reason: "the checkpoint was written with other settings; use the same flags or a new --out")
        }
        if let stamp = cp.state.examplesStamp, stamp != examplesStamp {
          throw .corruptCheckpoint(path: dir, key: "examplesStamp", reason: "the checkpoint was written for other training rows (another data file, template, label words or tokenizer); use the same inputs or a new --out")
        }
        try restore(cp, optimizer: optimizer)
        step = cp.state.step; epoch = cp.state.epoch; position = cp.state.positionInEpoch
        rng = cp.state.rng; history = cp.state.lossHistory
        if let seconds = cp.state.trainingSeconds {
          priorSeconds = seconds; priorTokens = cp.state.trainedTokens ?? 0; timedFrom = cp.state.timedFromStep ?? 0
        } else {
          timedFrom = step
        }
      }
    }
    progress(.started(totalSteps: totalSteps, examples: examples.count, parameters: lora.count, resumedAtStep: step))
    let clock = ContinuousClock()
    let start = clock.now
    var tokensDone = 0
    let stepsAtStart = step
    // Time and tokens of the whole training so far (see `TrainingSummary.timedFromStep`).
    func totals() -> (seconds: Double, tokens: Int) { (priorSeconds + (clock.now - start).seconds, priorTokens + tokensDone) }
    while epoch < config.epochs {
      let batches = plan.batches(epoch: epoch)
      var epochLoss = 0.0, epochSteps = 0
      while position < batches.count {
        if let stop = stopAfterSteps, step >= stop { return summary(step, history, totals(), timedFrom) }
        // One optimizer step = up to `gradientAccumulation` micro-batches.
        lora.gradients.zero()
        let micro = Array(batches[position..<min(batches.count, position + config.gradientAccumulation)])
        var loss = 0.0
        for b in micro {
          let seqs = b.map { i in TrainingSequence(tokens: examples[i].tokens, targets: examples[i].targets) }
          let r = try model.accumulateGradients(seqs, gradientScale: 1 / Float(micro.count), dropout: &rng)
          loss += r.loss / Double(micro.count)
          tokensDone += seqs.reduce(0) { $0 + $1.tokens.count }
        }
        // A NaN/Inf loss or gradient would poison every parameter through AdamW: stop first.
        guard loss.isFinite else { throw .nonFinite(step: step + 1, what: "loss", value: loss, checkpoint: checkpointDirectory) }
        // One reduction: `clip` returns the norm before clipping and leaves non-finite gradients as they are.
        let norm = config.maxGradientNorm > 0
          ? GradientClipping.clip([lora.gradients], maxNorm: config.maxGradientNorm)
          : GradientClipping.globalNorm([lora.gradients])
        guard norm.isFinite else {
          throw .nonFinite(step: step + 1, what: "gradient norm", value: norm, checkpoint: checkpointDirectory)
        }
        let lr = config.schedule.learningRate(step: step, totalSteps: totalSteps, base: config.learningRate, warmupSteps: config.warmupSteps)
        optimizer.step(parameters: lora.values.pointer, gradients: lora.gradients.pointer, count: lora.count, learningRate: lr)
        position += micro.count
        step += 1
        epochLoss += loss; epochSteps += 1
        history.append(LossRecord(step: step, loss: Float(loss), learningRate: lr, gradientNorm: Float(norm)))
        let elapsed = (clock.now - start).seconds
        let rate = Double(step - stepsAtStart) / max(elapsed, 1e-9)
        progress(.step(TrainingProgress(step: step, totalSteps: totalSteps, epoch: epoch + 1, epochs: config.epochs, loss: loss,
                                        learningRate: lr, gradientNorm: norm, tokensPerSecond: Double(tokensDone) / max(elapsed, 1e-9),
                                        elapsedSeconds: elapsed, etaSeconds: Double(totalSteps - step) / max(rate, 1e-9))))
        let endOfEpoch = position >= batches.count
        if endOfEpoch { try epochEnd(epoch + 1) }
        if let dir = checkpointDirectory,
           (config.checkpointEvery > 0 && step % config.checkpointEvery == 0) || endOfEpoch {
          let (e, p) = endOfEpoch ? (epoch + 1, 0) : (epoch, position)
          try save(dir, step: step, epoch: e, position: p, rng: rng, history: history, optimizer: optimizer,
                   totals: totals(), timedFrom: timedFrom)
          progress(.checkpointSaved(path: dir, step: step))
        }
      }
      progress(.epochFinished(epoch: epoch + 1, meanLoss: epochSteps > 0 ? epochLoss / Double(epochSteps) : .nan))
      epoch += 1
      position = 0
    }
    return summary(step, history, totals(), timedFrom)
  }

  private func summary(_ step: Int, _ history: [LossRecord], _ totals: (seconds: Double, tokens: Int), _ timedFrom: Int) -> TrainingSummary {
    TrainingSummary(steps: step, epochs: config.epochs, finalLoss: Double(history.last?.loss ?? .nan), lossHistory: history,
                    trainedTokens: totals.tokens, seconds: totals.seconds, timedFromStep: timedFrom)
  }

  private func save(_ dir: String, step: Int, epoch: Int, position: Int, rng: SeededRNG, history: [LossRecord], optimizer: AdamW,
                    totals: (seconds: Double, tokens: Int), timedFrom: Int) throws(TrainingError) {
    let state = optimizer.state()
    let cp = Checkpoint(
      state: CheckpointState(step: step, epoch: epoch, positionInEpoch: position, rng: rng, configuration: config, lossHistory: history,
                             trainingSeconds: totals.seconds, trainedTokens: totals.tokens, timedFromStep: timedFrom,
                             examplesStamp: examplesStamp),
      tensors: ["lora": FloatTensor(lora.values.array), "adam.m": FloatTensor(state.firstMoment),
                "adam.v": FloatTensor(state.secondMoment), "adam.step": FloatTensor([Float(state.step)])])
    try cp.write(to: dir)
  }

  private func restore(_ cp: Checkpoint<TrainingConfig>, optimizer: AdamW) throws(TrainingError) {
    func tensor(_ name: String, count: Int) throws(TrainingError) -> [Float] {
      guard let t = cp.tensors[name], t.values.count == count else {
        throw .corruptCheckpoint(path: checkpointDirectory ?? "", key: name, reason: "missing or of the wrong size (expected \(count) values)")
      }
      return t.values
    }
    let values = try tensor("lora", count: lora.count)
    lora.values.pointer.update(from: values, count: values.count)
    let step = Int(try tensor("adam.step", count: 1)[0])
    try optimizer.restore(AdamWState(step: step, firstMoment: try tensor("adam.m", count: lora.count),
                                     secondMoment: try tensor("adam.v", count: lora.count)))
  }
}
