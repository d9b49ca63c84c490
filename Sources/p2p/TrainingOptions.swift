import ArgumentParser
import Backdoor
import Experiments
import Foundation
import Training

/// Hyper-parameter flags shared by `train` and `defend` (defaults: the official P2P code).
struct TrainingOptions: ParsableArguments {
  @Option(help: "Epochs.") var epochs = 3
  @Option(help: "Sequences per micro-batch (default \(TaskDefaults.classificationBatchSize) for classification, as the official code; \(TrainingConfig().batchSize) for generation tasks and prompt/completion files).")
  var batchSize: Int?
  @Option(help: "Micro-batches per optimizer step.") var gradientAccumulation = 1
  @Option(help: "Peak learning rate (AdamW).") var lr: Float = 2e-4
  @Option(help: "AdamW weight decay.") var weightDecay: Float = 0
  @Option(help: "Learning-rate schedule.") var schedule = LearningRateSchedule.linear
  @Option(help: "Warm-up steps.") var warmupSteps = 0
  @Option(help: "Clip the global gradient norm (0 = off).") var maxGradNorm: Float = 1
  @Option(help: "LoRA rank.") var loraRank = 16
  @Option(help: "LoRA alpha (scaling = alpha / rank).") var loraAlpha: Float = 16
  @Option(help: "LoRA dropout.") var loraDropout: Float = 0.1
  @Option(help: "Adapted layers: any of q,k,v,o,gate,up,down, or all.") var loraTargets = "q,v"
  @Option(help: "Maximum tokens per example (the prompt is cut from the left; default \(TrainingConfig().maxLength), for generation tasks by task: \(GenerationTask.allCases.map { "\($0.rawValue) \(TaskDefaults.maxLength(for: $0))" }.joined(separator: ", "))).")
  var maxLength: Int?
  @Option(help: "Seed for LoRA initialisation, data order and dropout.") var seed: UInt64 = 42
  @Option(help: "Checkpoint every N optimizer steps (0 = at epoch ends only).") var checkpointEvery = 50
  @Flag(help: "Continue from the checkpoint in --out.") var resume = false
  @Flag(help: "Replace an earlier output of train/defend in --out (only the files they write; nothing else there is touched).")
  var overwrite = false
  @Flag(help: "No progress line, only the summary.") var quiet = false
  @Option(help: """
    Which epoch's adapter is the result: last, or best-dev (the best macro-F1 on the dataset's dev rows through the deployed \
    path, evaluated at each epoch's end; without a dev file, 10% of the training rows (at most 500) are held out of training). \
    Classification only.
    """) var select = ModelSelection.last

  var selection: ModelSelection { select }

  /// The flags over the task's defaults (`TaskDefaults.training`), validated.
  func config(for task: TaskDefaults.Kind) throws -> TrainingConfig {
    var c = TaskDefaults.training(task)
    c.epochs = epochs; c.batchSize = batchSize ?? c.batchSize; c.gradientAccumulation = gradientAccumulation
    c.learningRate = lr; c.weightDecay = weightDecay; c.warmupSteps = warmupSteps; c.maxGradientNorm = maxGradNorm
    c.schedule = schedule
    c.maxLength = maxLength ?? c.maxLength; c.seed = seed; c.checkpointEvery = checkpointEvery
    c.lora = LoRAConfig(rank: loraRank, alpha: loraAlpha, dropout: loraDropout, targets: try LoRATarget.parseList(loraTargets))
    try c.validate()
    return c
  }

  func validate() throws { _ = try config(for: .promptCompletion) }

  /// Renders training events as a progress line and per-epoch lines on standard error.
  func reporter() -> (TrainingEvent) -> Void {
    let bar = ProgressLine(enabled: !quiet)
    return { event in
      switch event {
      case let .started(total, n, params, at):
        printError("training \(n) examples, \(total) steps, \(params) LoRA parameters" + (at > 0 ? " (resumed at step \(at))" : ""))
      case let .step(p):
        bar.update(String(format: "step %d/%d | epoch %d/%d | loss %.4f | lr %.2e | %.0f tok/s | ETA %@",
                          p.step, p.totalSteps, p.epoch, p.epochs, p.loss, p.learningRate, p.tokensPerSecond,
                          ProgressLine.duration(p.etaSeconds)))
        if p.step == p.totalSteps { bar.finishLine() }
      case let .epochFinished(e, mean):
        bar.finishLine()
        printError(String(format: "epoch %d: mean loss %.4f", e, mean))
      case .checkpointSaved:
        break
      }
    }
  }
}
