import GGUF
import TensorCore

/// The frozen weights of one transformer block. q/k/v are fused into `qkv` (Dq+2·Dkv, C) and
/// gate/up into `gateUp` (2F, C) so each needs one GEMM. q/k rows stay in GGUF's permuted
/// order, for which the interleaved-pair RoPE is the correct rotation (DESIGN.md §3).
public struct BlockWeights: Sendable {
  /// (C)
  public let attentionNorm: FloatBuffer
  public let qkv: Linear
  public let output: Linear
  /// (C)
  public let ffnNorm: FloatBuffer
  public let gateUp: Linear
  public let down: Linear
}

/// All weights of a Llama-family model, dequantized to fp32 at load.
public final class LlamaWeights: @unchecked Sendable {
  public let config: LlamaConfig
  /// (V, C) token embeddings; also the LM head when the model ties them.
  public let embedding: FloatBuffer
  /// LM head y = h·Eᵀ; shares `embedding` storage when tied.
  public let lmHead: Linear
  public let blocks: [BlockWeights]
  /// (C)
  public let outputNorm: FloatBuffer

  public init(gguf file: GGUFFile, config: LlamaConfig) throws(ModelError) {
    self.config = config
    let c = config.hiddenSize, v = config.vocabularySize
    func vector(_ name: String, _ n: Int) throws(ModelError) -> FloatBuffer {
      guard let t = file.tensor(name) else { throw .gguf(.missingTensor(name)) }
      guard t.elementCount == n else { throw .tensorShape(name: name, found: t.dimensions, expected: [n]) }
      let b = FloatBuffer(count: n)
      do { try file.dequantize(t, into: b.pointer) } catch { throw .gguf(error) }
      return b
    }
    guard let embd = file.tensor("token_embd.weight") else { throw .gguf(.missingTensor("token_embd.weight")) }
    guard embd.dimensions == [c, v] else { throw .tensorShape(name: embd.name, found: embd.dimensions, expected: [c, v]) }
    embedding = try vector("token_embd.weight", c * v)
    if config.tiedEmbeddings {
      let quant = QuantizedRows.supports(embd.type) ? QuantizedRows(type: embd.type, columns: c, parts: [file.rawData(embd)]) : nil
      lmHead = Linear(weight: embedding, outFeatures: v, inFeatures: c, quantized: quant)
    } else {
      lmHead = try Linear.load(file, names: ["output.weight"], rows: [v], columns: c)
    }
    outputNorm = try vector("output_norm.weight", c)
    var blocks: [BlockWeights] = []
    for l in 0..<config.layerCount {
      let p = "blk.\(l)."
      let qkvBias = config.attentionBias ? [p + "attn_q.bias", p + "attn_k.bias", p + "attn_v.bias"] : nil
      blocks.append(BlockWeights(
        attentionNorm: try vector(p + "attn_norm.weight", c),
        qkv: try Linear.load(file, names: [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"],
                             rows: [config.qDim, config.kvDim, config.kvDim], columns: c, biases: qkvBias),
        output: try Linear.load(file, names: [p + "attn_output.weight"], rows: [c], columns: config.qDim),
        ffnNorm: try vector(p + "ffn_norm.weight", c),
        gateUp: try Linear.load(file, names: [p + "ffn_gate.weight", p + "ffn_up.weight"],
                                rows: [config.feedForwardSize, config.feedForwardSize], columns: c),
        down: try Linear.load(file, names: [p + "ffn_down.weight"], rows: [c], columns: config.feedForwardSize)))
    }
    self.blocks = blocks
  }
}
