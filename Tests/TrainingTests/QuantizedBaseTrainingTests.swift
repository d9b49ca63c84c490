import Foundation
import GGUF
import Llama
import TensorCore
import Testing
import TestSupport
import Training

/// LoRA training and adapters on the real SmolLM2 with its base kept quantized: the same loss and
/// gradients as with the fp32 base, and an adapter attached unmerged that computes what the
/// adapter merged into the fp32 base does, and detaches again.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct QuantizedBaseTrainingTests {
  @Test func gradientsMatchTheFP32BaseAndAnAttachedAdapterMatchesAMergedOne() throws {
    let file = try #require(RealModel.file)
    // A model of its own: the adapter is merged into it, which other tests sharing RealModel.model must not see.
    let quantized = try LlamaModel(gguf: file, base: .quantized), dense = try LlamaModel(gguf: file, base: .fp32)
    let config = LoRAConfig(rank: 4, alpha: 8, dropout: 0, targets: LoRATarget.allCases)
    var rng = SeededRNG(seed: 11)
    let make = { (model: LlamaModel) -> LoRAParameters in
      let l = LoRAParameters(model: model.config, lora: config)
      var r = SeededRNG(seed: 5)
      for i in 0..<l.count { l.values.pointer[i] = Float.random(in: -0.05...0.05, using: &r) }
      return l
    }
    let batch = (0..<3).map { b in
      TrainingSequence(tokens: (0..<(12 + 5 * b)).map { _ in Int.random(in: 20..<40000, using: &rng) },
                       targets: (0..<(12 + 5 * b)).map { $0 < 4 ? -1 : Int.random(in: 20..<40000, using: &rng) })
    }
    let a = TrainableModel(base: quantized, lora: make(quantized)), b = TrainableModel(base: dense, lora: make(dense))
    var r1 = SeededRNG(seed: 0), r2 = SeededRNG(seed: 0)
    let (l1, _) = try a.accumulateGradients(batch, dropout: &r1), (l2, _) = try b.accumulateGradients(batch, dropout: &r2)
    #expect(abs(l1 - l2) <= 1e-5 * abs(l2), "loss \(l1) vs \(l2)")
    let g1 = Array(UnsafeBufferPointer(start: a.lora.gradients.pointer, count: a.lora.count))
    let g2 = Array(UnsafeBufferPointer(start: b.lora.gradients.pointer, count: b.lora.count))
    #expect(Closeness.relativeError(g1, g2) <= 1e-4, "relative error \(Closeness.relativeError(g1, g2))")
    // On the quantized base the adapter is attached unmerged: no layer turns into fp32, the
    // logits are those of the adapter merged into the fp32 base, and restoring detaches it.
    let ids = batch.map(\.tokens)
    let before = try quantized.forward(ids, logits: .all).values
    let attached = a.lora.merge(into: quantized)
    #expect(quantized.adapter != nil)
    #expect(quantized.weights.blocks.allSatisfy { !$0.qkv.isMaterialized && !$0.gateUp.isMaterialized && !$0.down.isMaterialized })
    let withAdapter = try quantized.forward(ids, logits: .all).values
    let merged = b.lora.merge(into: dense)
    let reference = try dense.forward(ids, logits: .all).values
    merged.restore()
    let scale = reference.map(abs).max()!
    #expect(Closeness.maxAbsDiff(withAdapter, before) > 1e-3)  // the adapter changes the function
    #expect(Closeness.maxAbsDiff(withAdapter, reference) <= 2e-4 * scale, "max |Δ| \(Closeness.maxAbsDiff(withAdapter, reference))")
    // Greedy decoding with the cache goes through the adapter too.
    let d1 = try Generator(model: quantized, eosIDs: []).generate(prompt: ids[0], parameters: SamplingParameters(maxTokens: 6, stopAtEOS: false))
    let m2 = b.lora.merge(into: dense)
    let d2 = try Generator(model: dense, eosIDs: []).generate(prompt: ids[0], parameters: SamplingParameters(maxTokens: 6, stopAtEOS: false))
    m2.restore()
    #expect(d1.tokens == d2.tokens)
    attached.restore()
    #expect(quantized.adapter == nil)
    #expect(try quantized.forward(ids, logits: .all).values == before)
  }
}
