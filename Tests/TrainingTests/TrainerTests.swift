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
