import Foundation
import GGUF
import Llama
import TestSupport
import Testing
import Training

/// Non-finite values are errors: training stops before a NaN/Inf step is applied (the checkpoint
/// before it is kept), and an adapter with a NaN or infinite weight is refused on load.
struct NonFiniteTests {
  @Test func aDivergingRunStopsWithTheStepAndKeepsItsCheckpoint() throws {
    let base = try TrainerTests.model()
    var c = TrainerTests.config()
    // An absurd learning rate without clipping: step 1 moves the adapter to ~1e30, step 2's
    // forward pass overflows.
    c.learningRate = 1e30; c.maxGradientNorm = 0; c.warmupSteps = 0; c.schedule = .constant; c.checkpointEvery = 1
    let dir = TrainerTests.tempDir()
    var stopped: TrainingError?
    let trainer = try Trainer(base: base, examples: TrainerTests.examples(), config: c, checkpointDirectory: dir)
    do { _ = try trainer.run() } catch { stopped = error }
    guard case let .nonFinite(step, what, value, checkpoint)? = stopped else {
      Issue.record("expected a non-finite stop, got \(String(describing: stopped))")
      return
    }
    #expect(step >= 2 && !value.isFinite && ["loss", "gradient norm"].contains(what))
    #expect(checkpoint == dir + "/checkpoint")
    // The last checkpoint is the step before, and it loads.
    let cp = try Checkpoint<TrainingConfig>.load(from: dir + "/checkpoint")
    #expect(cp.state.step == step - 1)
    #expect(stopped!.description.contains("training stopped at step \(step)"))
  }

  @Test func anAdapterWithANaNWeightIsRefused() throws {
    let model = try TrainerTests.model()
    for bad in [Float.nan, .infinity] {
      let lora = LoRAParameters(model: model.config, lora: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]))
      let dir = TrainerTests.tempDir()
      try PEFTAdapter.save(lora, model: model.config, baseModel: "tiny", to: dir)
      #expect(throws: Never.self) { _ = try PEFTAdapter.load(from: dir, model: model.config) }
      lora.values.pointer[lora.count / 2] = bad
      try PEFTAdapter.save(lora, model: model.config, baseModel: "tiny", to: dir)
      do { _ = try PEFTAdapter.load(from: dir, model: model.config); Issue.record("a \(bad) weight was accepted") } catch {
        #expect("\(error)".contains("finite weights"), "\(error)")
      }
    }
  }

  /// Found by fuzzing the adapter reader: a repeated target module trapped; it is an error now.
  @Test func aRepeatedTargetModuleIsRefused() throws {
    let model = try TrainerTests.model()
    let dir = TrainerTests.tempDir()
    try PEFTAdapter.save(LoRAParameters(model: model.config, lora: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v])), model: model.config,
                         baseModel: "tiny", to: dir)
    let path = dir + "/" + PEFTAdapter.configFile
    var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    object["target_modules"] = ["q_proj", "v_proj", "q_proj"]
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    do { _ = try PEFTAdapter.load(from: dir, model: model.config); Issue.record("accepted") } catch {
      #expect("\(error)".contains("each target at most once"), "\(error)")
    }
  }
}
