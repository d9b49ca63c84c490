import Foundation
import GGUF
import Llama
import TensorCore
import TestSupport
import Testing
import Training

/// The training loop on the tiny fixture model: it learns, it is reproducible, and a run
/// stopped mid-way and resumed from its checkpoint ends exactly where an uninterrupted run does.
struct TrainerTests {
  static func model() throws -> LlamaModel {
    try LlamaModel(gguf: GGUFFile(path: try #require(Tiny.url("tiny-llama.gguf", "bin")).path))
  }

  /// 20 toy examples: the completion repeats the prompt's first token (learnable).
  static func examples() throws -> [TokenizedExample] {
    var rng = SeededRNG(seed: 3)
    return try (0..<20).map { _ in
      let prompt = (0..<6).map { _ in 3 + Int(rng.next() % 90) }
      return try TokenizedExample(prompt: prompt, completion: [prompt[0], prompt[1]], maxLength: 32)
    }
  }

  static func config() -> TrainingConfig {
    var c = TrainingConfig()
    c.epochs = 3; c.batchSize = 4; c.gradientAccumulation = 2; c.learningRate = 5e-3; c.warmupSteps = 2
    c.schedule = .cosine; c.maxGradientNorm = 1; c.seed = 11; c.checkpointEvery = 2
    c.lora = LoRAConfig(rank: 4, alpha: 8, dropout: 0.1, targets: [.q, .k, .v, .o, .gate, .up, .down])
    return c
  }

  static func tempDir() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("p2p-train-\(UUID().uuidString)").path
  }

  @Test func lossDecreasesAndRunsAreReproducible() throws {
    let base = try Self.model()
    let a = try Trainer(base: base, examples: Self.examples(), config: Self.config(), checkpointDirectory: nil).run()
    let b = try Trainer(base: base, examples: Self.examples(), config: Self.config(), checkpointDirectory: nil).run()
    #expect(a.steps == 9)  // 5 micro-batches → 3 steps per epoch × 3 epochs
    #expect(a.lossHistory.map(\.loss) == b.lossHistory.map(\.loss))
    let first = a.lossHistory.prefix(2).map { Double($0.loss) }.reduce(0, +)
    let last = a.lossHistory.suffix(2).map { Double($0.loss) }.reduce(0, +)
    #expect(last < first, "loss \(first / 2) -> \(last / 2)")
  }

  @Test func aTrainerCanStartFromATrainedAdapter() throws {
    let base = try Self.model()
    let trained = try Trainer(base: base, examples: Self.examples(), config: Self.config(), checkpointDirectory: nil)
    let first = try trained.run()
    let further = try Trainer(base: base, examples: Self.examples(), config: Self.config(), checkpointDirectory: nil, initialAdapter: trained.lora)
    #expect(Array(UnsafeBufferPointer(start: further.lora.values.pointer, count: further.lora.count))
      == Array(UnsafeBufferPointer(start: trained.lora.values.pointer, count: trained.lora.count)))
    // It goes on from where the first run ended: its first loss is that of the trained adapter, below the fresh start's.
    let next = try further.run()
    #expect(next.lossHistory[0].loss < first.lossHistory[0].loss)
    var other = Self.config()
    other.lora = LoRAConfig(rank: 2, alpha: 8, dropout: 0.1, targets: [.q, .v])
    #expect(throws: TrainingError.self) {
      try Trainer(base: base, examples: Self.examples(), config: other, checkpointDirectory: nil, initialAdapter: trained.lora)
    }
  }

  @Test func resumedRunEqualsUninterruptedRun() throws {
    let base = try Self.model()
    let dirA = Self.tempDir(), dirB = Self.tempDir()
    defer { try? FileManager.default.removeItem(atPath: dirA); try? FileManager.default.removeItem(atPath: dirB) }
    let full = try Trainer(base: base, examples: Self.examples(), config: Self.config(), checkpointDirectory: dirA).run()
    // "Kill" after 5 steps (the last checkpoint is at step 4), then resume in a new trainer.
    _ = try Trainer(base: base, examples: Self.examples(), config: Self.config(), checkpointDirectory: dirB).run(stopAfterSteps: 5)
    // A leftover temp directory of a killed checkpoint write must not disturb the resume.
    try FileManager.default.createDirectory(atPath: dirB + "/checkpoint.tmp-killed", withIntermediateDirectories: true)
    var resumedAt = -1
    let trainer = try Trainer(base: base, examples: Self.examples(), config: Self.config(), checkpointDirectory: dirB)
    let resumed = try trainer.run(resume: true) { if case let .started(_, _, _, s) = $0 { resumedAt = s } }
    #expect(resumedAt == 4)
    #expect(resumed.steps == full.steps)
    #expect(resumed.finalLoss == full.finalLoss)
    #expect(resumed.lossHistory.map(\.loss) == full.lossHistory.map(\.loss))
    // Time and tokens add up over the two runs; step 5, trained twice, counts once.
    #expect(full.timedFromStep == 0 && resumed.timedFromStep == 0)
    #expect(resumed.trainedTokens == full.trainedTokens)
    let saved = try Checkpoint<TrainingConfig>.load(from: dirB + "/checkpoint")
    // The last checkpoint (end of training) is written just before the summary is timed.
    #expect(saved.state.step == full.steps && saved.state.trainedTokens == full.trainedTokens)
    #expect(try #require(saved.state.trainingSeconds) <= resumed.seconds)
  }

  /// A checkpoint written for other training rows (another data file, template or label words,
  /// same settings) is refused by name, not continued.
  @Test func resumeWithOtherRowsIsRefused() throws {
    let base = try Self.model()
    let dir = Self.tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let examples = try Self.examples()
    _ = try Trainer(base: base, examples: examples, config: Self.config(), checkpointDirectory: dir).run(stopAfterSteps: 5)
    #expect(try Checkpoint<TrainingConfig>.load(from: dir + "/checkpoint").state.examplesStamp == Trainer.stamp(examples))
    var other = examples
    other[0].tokens[0] = other[0].tokens[0] == 3 ? 4 : 3
    #expect(Trainer.stamp(other) != Trainer.stamp(examples))
    do {
      _ = try Trainer(base: base, examples: other, config: Self.config(), checkpointDirectory: dir).run(resume: true)
      Issue.record("a checkpoint of other rows was resumed")
    } catch let TrainingError.corruptCheckpoint(_, key, reason) {
      #expect(key == "examplesStamp" && reason.contains("other training rows"))
    }
    // The same rows resume.
    #expect(try Trainer(base: base, examples: examples, config: Self.config(), checkpointDirectory: dir).run(resume: true).steps == 9)
  }

  /// A checkpoint of an older build has no time recorded: the resumed run's time and tokens
  /// count from the checkpoint's step, and the summary says so.
  @Test func resumeFromAnUntimedCheckpointCountsFromItsStep() throws {
    let base = try Self.model()
    let dir = Self.tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let config = Self.config()
    _ = try Trainer(base: base, examples: Self.examples(), config: config, checkpointDirectory: dir).run(stopAfterSteps: 5)
    var old = try Checkpoint<TrainingConfig>.load(from: dir + "/checkpoint")
    #expect(old.state.step == 4 && old.state.timedFromStep == 0 && (old.state.trainedTokens ?? 0) > 0)
    old.state.trainingSeconds = nil; old.state.trainedTokens = nil; old.state.timedFromStep = nil
    try old.write(to: dir + "/checkpoint")
    let resumed = try Trainer(base: base, examples: Self.examples(), config: config, checkpointDirectory: dir).run(resume: true)
    let full = try Trainer(base: base, examples: Self.examples(), config: config, checkpointDirectory: nil).run()
    #expect(resumed.timedFromStep == 4)
    // Tokens of steps 5-9 only: the whole run's minus those of steps 1-4 (steps 1-3 are epoch 0's
    // five micro-batches, 2+2+1; step 4 is the first two micro-batches of epoch 1).
    let examples = try Self.examples(), plan = try BatchPlan(exampleCount: examples.count, batchSize: config.batchSize, seed: config.seed)
    var early = 0
    for b in plan.batches(epoch: 0) + plan.batches(epoch: 1).prefix(2) { early += b.reduce(0) { $0 + examples[$1].tokens.count } }
    #expect(resumed.trainedTokens == full.trainedTokens - early)
  }

  @Test func resumeWithOtherSettingsIsRefused() throws {
    let base = try Self.model()
    let dir = Self.tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    _ = try Trainer(base: base, examples: Self.examples(), config: Self.config(), checkpointDirectory: dir).run(stopAfterSteps: 2)
    var other = Self.config()
    other.learningRate = 1e-3
    #expect(throws: TrainingError.self) {
      try Trainer(base: base, examples: Self.examples(), config: other, checkpointDirectory: dir).run(resume: true)
    }
  }
}
