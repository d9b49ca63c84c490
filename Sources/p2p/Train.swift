import ArgumentParser
import Foundation
import Llama
import Training

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "LoRA fine-tuning on a JSONL of {\"prompt\", \"completion\"} rows (loss on the completion only).",
    discussion: """
      Writes to --out: the adapter in PEFT's format (adapter_config.json, adapter_model.safetensors), training_log.json (the loss curve), training_summary.json, and checkpoint/ (every --checkpoint-every steps and at each epoch's end). --resume continues from checkpoint/ and ends exactly where an uninterrupted run with the same settings would.
      """)

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "Training data: JSONL with one {\"prompt\": ..., \"completion\": ...} object a line.") var data: String
  @Option(help: "Output directory.") var out: String
  @Option(help: "Epochs.") var epochs = 3
  @Option(help: "Sequences per micro-batch.") var batchSize = 8
  @Option(help: "Micro-batches per optimizer step.") var gradientAccumulation = 1
  @Option(help: "Peak learning rate (AdamW).") var lr: Float = 2e-4
  @Option(help: "AdamW weight decay.") var weightDecay: Float = 0
  @Option(help: "Learning-rate schedule: linear, cosine or constant.") var schedule = "linear"
  @Option(help: "Warm-up steps.") var warmupSteps = 0
  @Option(help: "Clip the global gradient norm (0 = off).") var maxGradNorm: Float = 1
  @Option(help: "LoRA rank.") var loraRank = 16
  @Option(help: "LoRA alpha (scaling = alpha / rank).") var loraAlpha: Float = 16
  @Option(help: "LoRA dropout.") var loraDropout: Float = 0.1
  @Option(help: "Adapted layers: any of q,k,v,o,gate,up,down, or all.") var loraTargets = "q,v"
  @Option(help: "Maximum tokens per example (the prompt is cut from the left).") var maxLength = 128
  @Option(help: "Seed for LoRA initialisation, data order and dropout.") var seed: UInt64 = 42
  @Option(help: "Checkpoint every N optimizer steps (0 = at epoch ends only).") var checkpointEvery = 50
  @Flag(help: "Continue from the checkpoint in --out.") var resume = false
  @Flag(help: "No progress line, only the summary.") var quiet = false

  func trainingConfig() throws -> TrainingConfig {
    var c = TrainingConfig()
    c.epochs = epochs; c.batchSize = batchSize; c.gradientAccumulation = gradientAccumulation
    c.learningRate = lr; c.weightDecay = weightDecay; c.warmupSteps = warmupSteps; c.maxGradientNorm = maxGradNorm
    guard let s = LearningRateSchedule(rawValue: schedule) else {
      throw ValidationError("--schedule must be linear, cosine or constant")
    }
    c.schedule = s
    c.maxLength = maxLength; c.seed = seed; c.checkpointEvery = checkpointEvery
    c.lora = LoRAConfig(rank: loraRank, alpha: loraAlpha, dropout: loraDropout, targets: try LoRATarget.parseList(loraTargets))
    try c.validate()
    return c
  }

  func validate() throws { _ = try trainingConfig() }

  func run() throws {
    let config = try trainingConfig()
    let rows = try JSONLReader.readPromptCompletions(path: data)
    let bundle = try modelOptions.load()
    let examples = try rows.map { r in
      try TokenizedExample(prompt: bundle.tokenizer.encode(r.prompt), completion: bundle.tokenizer.encode(r.completion), maxLength: config.maxLength)
    }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let trainer = try Trainer(base: bundle.model, examples: examples, config: config, checkpointDirectory: out)
    let bar = ProgressLine(enabled: !quiet)
    let summary = try trainer.run(resume: resume) { event in
      switch event {
      case let .started(total, n, params, at):
        printError("training \(n) examples, \(total) steps, \(params) LoRA parameters" + (at > 0 ? " (resumed at step \(at))" : ""))
      case let .step(p):
        bar.update(String(format: "step %d/%d | epoch %d/%d | loss %.4f | lr %.2e | %.0f tok/s | ETA %@",
                          p.step, p.totalSteps, p.epoch, p.epochs, p.loss, p.learningRate, p.tokensPerSecond,
                          ProgressLine.duration(p.etaSeconds)))
      case let .epochFinished(e, mean):
        bar.finishLine()
        printError(String(format: "epoch %d: mean loss %.4f", e, mean))
      case .checkpointSaved:
        break
      }
    }
    bar.finishLine()
    try PEFTAdapter.save(trainer.lora, model: bundle.model.config, baseModel: (bundle.path as NSString).lastPathComponent, to: out)
    try JSONFile.write(summary.lossHistory, to: out + "/training_log.json")
    try JSONFile.write(summary, to: out + "/training_summary.json")
    print(String(format: "trained %d steps in %.1f s, final loss %.4f; adapter written to %@", summary.steps, summary.seconds,
                 summary.finalLoss, out))
  }
}

/// A single progress line on standard error, redrawn in place.
final class ProgressLine {
  let enabled: Bool
  private var active = false
  init(enabled: Bool) { self.enabled = enabled }

  func update(_ text: String) {
    guard enabled else { return }
    FileHandle.standardError.write(("\r\u{1B}[K" + text).data(using: .utf8)!)
    active = true
  }

  func finishLine() {
    if active { FileHandle.standardError.write("\n".data(using: .utf8)!); active = false }
  }

  static func duration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
  }
}

/// Pretty, atomic JSON output files.
enum JSONFile {
  static func write<T: Encodable>(_ value: T, to path: String) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try enc.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
  }
}
