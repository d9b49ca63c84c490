import Foundation
import GGUF
import Llama
import TensorCore
import TestSupport
import Testing
import Training

struct SST2LoRAFixture: Decodable {
  let adapter_dir: String
  let input_ids: [[Int]]
  let attention_mask: [[Int]]
  let labels: [[Int]]
  let label_token_ids: [Int]
  let label_positions: [Int]
  let loss: Double
  let loss_base: Double
  let label_logits: [[Float]]
}

/// The real model with a PEFT-saved adapter (r=2 on q,v with random B) on an SST-2 batch.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct RealModelLoRATests {
  static func fixture() throws -> SST2LoRAFixture {
    try loadFixture(SST2LoRAFixture.self, from: Bundle.module.url(forResource: "smollm-sst2-lora", withExtension: "json", subdirectory: "Fixtures"))
  }

  /// The PEFT-saved adapter as a real adapter directory. The fixture keeps the weights as
  /// `adapter_model.safetensors.bin` (the repository keeps *.safetensors out of git); this
  /// copies it to a temporary directory under PEFT's file name, once per test process.
  static let adapterCopy: String? = {
    guard let src = Bundle.module.url(forResource: "smollm-peft-adapter", withExtension: nil, subdirectory: "Fixtures") else { return nil }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("p2p-peft-fixture-\(UUID().uuidString)")
    do {
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      try FileManager.default.copyItem(at: src.appendingPathComponent("adapter_config.json"), to: dir.appendingPathComponent("adapter_config.json"))
      try FileManager.default.copyItem(at: src.appendingPathComponent("adapter_model.safetensors.bin"),
                                       to: dir.appendingPathComponent("adapter_model.safetensors"))
    } catch { return nil }
    return dir.path
  }()

  static func adapterDir() throws -> String { try #require(adapterCopy) }

  @Test func peftAdapterLoadsAndTheLossMatchesTransformers() throws {
    let fx = try Self.fixture()
    let model = try #require(RealModel.model)
    let lora = try PEFTAdapter.load(from: try Self.adapterDir(), model: model.config)
    let batch = TrainingSequence.fromCausalLMBatch(inputIDs: fx.input_ids, attentionMask: fx.attention_mask, labels: fx.labels)
    let trainable = TrainableModel(base: model, lora: lora)
    let (loss, _) = try trainable.loss(batch)
    #expect(abs(loss - fx.loss) <= 1e-3 * abs(fx.loss), "loss \(loss) vs transformers+PEFT \(fx.loss)")
    let base = try TrainableModel(base: model, lora: LoRAParameters(model: model.config, lora: lora.config)).loss(batch).loss
    #expect(abs(base - fx.loss_base) <= 1e-3 * abs(fx.loss_base))
    #expect(abs(loss - base) > 1e-3)  // the adapter changes the model
    // Label-word logits at the last prompt token.
    let prompts = fx.input_ids.indices.map { Array(fx.input_ids[$0].prefix(fx.label_positions[$0] + 1)) }
    let logits = try trainable.lastLogits(prompts, tokens: fx.label_token_ids)
    for (b, row) in logits.enumerated() {
      let scale = fx.label_logits[b].map(abs).max() ?? 1
      #expect(Closeness.maxAbsDiff(row, fx.label_logits[b]) <= 1e-3 * scale)
    }
  }

  @Test func savedAdapterRoundTripsThroughPEFTFormat() throws {
    let model = try #require(RealModel.model)
    let lora = try PEFTAdapter.load(from: try Self.adapterDir(), model: model.config)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("p2p-adapter-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try PEFTAdapter.save(lora, model: model.config, baseModel: "smollm2-135m", to: dir)
    let again = try PEFTAdapter.load(from: dir, model: model.config)
    #expect(again.config == lora.config)
    #expect(again.values.array == lora.values.array)
    // Same tensors, same bytes of data, as PEFT's file (names and row order preserved).
    let a = try SafeTensorsFile(path: try Self.adapterDir() + "/adapter_model.safetensors")
    let b = try SafeTensorsFile(path: dir + "/adapter_model.safetensors")
    for t in a.tensors { #expect(try a.floats(t.name) == b.floats(t.name), "\(t.name)") }
  }

  /// One AdamW step on the batch changes every adapter tensor; the result is saved in PEFT's
  /// format with the loss and label logits Swift computes for it (`swift_reference.json`).
  /// With `P2P_KEEP_ADAPTER_DIR=DIR` the directory is kept for
  /// `scripts/fixtures/training_fixtures.py --check-swift-adapter DIR`, which loads it in PEFT.
  @Test func trainedAdapterIsSavedWithItsReferenceNumbers() throws {
    let fx = try Self.fixture()
    let model = try #require(RealModel.model)
    let lora = try PEFTAdapter.load(from: try Self.adapterDir(), model: model.config)
    let batch = TrainingSequence.fromCausalLMBatch(inputIDs: fx.input_ids, attentionMask: fx.attention_mask, labels: fx.labels)
    let trainable = TrainableModel(base: model, lora: lora)
    var rng = SeededRNG(seed: 1)
    let before = lora.values.array
    try trainable.accumulateGradients(batch, dropout: &rng)
    let opt = AdamW(config: AdamWConfig(learningRate: 1e-3), parameterCount: lora.count)
    opt.step(parameters: lora.values.pointer, gradients: lora.gradients.pointer, count: lora.count, learningRate: 1e-3)
    #expect(lora.values.array != before)
    let (loss, _) = try trainable.loss(batch)
    let prompts = fx.input_ids.indices.map { Array(fx.input_ids[$0].prefix(fx.label_positions[$0] + 1)) }
    let logits = try trainable.lastLogits(prompts, tokens: fx.label_token_ids)
    let keep = ProcessInfo.processInfo.environment["P2P_KEEP_ADAPTER_DIR"]
    let dir = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("p2p-adapter-\(UUID().uuidString)").path
    defer { if keep == nil { try? FileManager.default.removeItem(atPath: dir) } }
    try PEFTAdapter.save(lora, model: model.config, baseModel: "SmolLM2-135M-Instruct.Q4_1.gguf", to: dir)
    struct Reference: Encodable { let loss: Double; let label_logits: [[Float]] }
    try JSONEncoder().encode(Reference(loss: loss, label_logits: logits))
      .write(to: URL(fileURLWithPath: dir + "/swift_reference.json"))
    let reloaded = try PEFTAdapter.load(from: dir, model: model.config)
    #expect(try TrainableModel(base: model, lora: reloaded).loss(batch).loss == loss)
  }
}
