import Foundation
import GGUF
import Llama
import Testing
import TestSupport
import TensorCore
import Training

/// LoRA on the tiny Llama 3, Qwen2 and Qwen3 models (Tests/LlamaTests/Fixtures/families, from
/// scripts/fixtures/tiny_families.py): the loss and the gradient of every LoRA tensor against
/// PEFT on the same batch. Qwen2's q/k rows and biases and Qwen3's q/k norms are permuted at load
/// (halves RoPE), so this also checks that PEFT's lora_B rows map onto them; Qwen3's gradients
/// pass through the per-head norm's backward.
struct FamilyLoRATests {
  struct Fixture: Decodable {
    struct Tensor: Decodable { let shape: [Int]; let data: [Float] }
    struct LoRA: Decodable { let r: Int; let lora_alpha: Float; let target_modules: [String] }
    let lora: LoRA
    let input_ids: [[Int]]
    let attention_mask: [[Int]]
    let labels: [[Int]]
    let loss: Double
    let initial: [String: Tensor]
    let gradients: [String: Tensor]
  }

  @Test(arguments: ["llama3", "qwen2", "qwen3"])
  func lossAndEveryLoRAGradientMatchPEFT(family: String) throws {
    let fx = try loadFixture(Fixture.self, from: URL(fileURLWithPath: TinyFamilies.directory(family) + "/lora.json"))
    let model = try LlamaModel(gguf: try GGUFFile(path: TinyFamilies.gguf(family)))
    let targets = try LoRATarget.parseList(fx.lora.target_modules.joined(separator: ","))
    let lora = LoRAParameters(model: model.config, lora: LoRAConfig(rank: fx.lora.r, alpha: fx.lora.lora_alpha, dropout: 0, targets: targets))
    for slot in lora.slots {
      for m in LoRAMatrix.allCases {
        let t = try #require(fx.initial[LoRAParameters.peftName(layer: slot.layer, target: slot.target, matrix: m)])
        lora.importMatrix(t.data, slot: slot, matrix: m, model: model.config)
      }
    }
    let trainable = TrainableModel(base: model, lora: lora)
    var rng = SeededRNG(seed: 0)
    let batch = TrainingSequence.fromCausalLMBatch(inputIDs: fx.input_ids, attentionMask: fx.attention_mask, labels: fx.labels)
    let (loss, _) = try trainable.accumulateGradients(batch, dropout: &rng)
    #expect(abs(loss - fx.loss) <= 1e-5 * abs(fx.loss), "\(family): loss \(loss) vs PEFT \(fx.loss)")
    var worst: Float = 0
    for slot in lora.slots {
      for m in LoRAMatrix.allCases {
        let name = LoRAParameters.peftName(layer: slot.layer, target: slot.target, matrix: m)
        let ref = try #require(fx.gradients[name])
        let err = Closeness.relativeError(lora.exportMatrix(slot: slot, matrix: m, model: model.config, from: .gradients), ref.data)
        worst = max(worst, err)
        #expect(err <= 1e-4, "\(family) \(name): relative error \(err)")
      }
    }
    #expect(worst > 0)  // the comparison is live
  }
}
