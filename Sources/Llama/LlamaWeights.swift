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
  /// (headDim) each, Qwen3's per-head RMSNorm of q and k, in the interleaved order of the q/k rows.
  public let qNorm: FloatBuffer?
  public let kNorm: FloatBuffer?
}

/// All weights of a Llama-family model: dequantized to fp32 at load, or with the projections and
/// embeddings kept in their GGUF type (`BaseWeights`); norms and biases are fp32 always.
public final class LlamaWeights: @unchecked Sendable {
  public let config: LlamaConfig
  /// How the projections and embeddings are held (`auto` resolved at load).
  public let base: BaseWeights
  /// (V, C) token embeddings as a layer whose rows are the tokens; also the LM head when tied.
  public let embeddingTable: Linear
  /// LM head y = h·Eᵀ; the same layer as `embeddingTable` when tied.
  public let lmHead: Linear
  public let blocks: [BlockWeights]
  /// (C)
  public let outputNorm: FloatBuffer
  /// (headDim / 2) divisors of the RoPE frequencies (Llama 3.1/3.2's `rope_freqs.weight`), or nil.
  public let ropeFactors: [Float]?

  /// For each row of one head in the interleaved order, the row of the Hugging Face (halves)
  /// order it comes from: llama.cpp's q/k permutation (`convert_hf_to_gguf.py`, `permute`).
  public static func interleavedHeadOrder(headDim d: Int) -> [Int] { (0..<d).map { ($0 % 2) * (d / 2) + $0 / 2 } }

  /// (V, C) fp32 token embeddings (materialized on first use when kept quantized).
  public var embedding: FloatBuffer { embeddingTable.weight }

  /// out (C) = the embedding of `token`.
  @inline(__always)
  public func embed(_ token: Int, into out: UnsafeMutablePointer<Float>) { embeddingTable.copyRow(token, into: out) }

  /// Bytes of the projection and embedding weights in memory now (fp32 and blocks).
  public var matrixBytes: Int {
    var layers = blocks.flatMap { [$0.qkv, $0.output, $0.gateUp, $0.down] } + [embeddingTable]
    if lmHead !== embeddingTable { layers.append(lmHead) }
    return layers.reduce(0) { $0 + ($1.isMaterialized ? 4 * $1.outFeatures * $1.inFeatures : 0) + ($1.quantized?.byteCount ?? 0) }
  }

  public init(gguf file: GGUFFile, config: LlamaConfig, base requested: BaseWeights = .fp32) throws(ModelError) {
    self.config = config
    let c = config.hiddenSize, v = config.vocabularySize
    let base: BaseWeights
    switch requested {
    case .auto:
      let elements = file.tensors.filter { $0.dimensions.count == 2 }.reduce(0) { $0 + $1.elementCount }
      base = 4 * elements > BaseWeights.autoLimitBytes ? .quantized : .fp32
    default: base = requested
    }
    self.base = base
    let keep = base == .quantized
    func vector(_ name: String, _ n: Int) throws(ModelError) -> FloatBuffer {
      guard let t = file.tensor(name) else { throw .gguf(.missingTensor(name)) }
      guard t.elementCount == n else { throw .tensorShape(name: name, found: t.dimensions, expected: [n]) }
      let b = FloatBuffer(count: n)
      do { try file.dequantize(t, into: b.pointer) } catch { throw .gguf(error) }
      return b
    }
    guard let embd = file.tensor("token_embd.weight") else { throw .gguf(.missingTensor("token_embd.weight")) }
    guard embd.dimensions == [c, v] else { throw .tensorShape(name: embd.name, found: embd.dimensions, expected: [c, v]) }
    if keep && QuantizedRows.canHold(embd.type) {
      embeddingTable = Linear(quantizedOnly: QuantizedRows(type: embd.type, columns: c, parts: [file.rawData(embd)]))
    } else {
      // The decode rows serve the tied LM head.
      let quant = config.tiedEmbeddings && QuantizedRows.supports(embd.type) ? QuantizedRows(type: embd.type, columns: c, parts: [file.rawData(embd)]) : nil
      embeddingTable = Linear(weight: try vector("token_embd.weight", c * v), outFeatures: v, inFeatures: c, quantized: quant)
    }
    lmHead = config.tiedEmbeddings ? embeddingTable : try Linear.load(file, names: ["output.weight"], rows: [v], columns: c, keepQuantized: keep)
    file.releaseTensorPages()
    outputNorm = try vector("output_norm.weight", c)
    if file.tensor("rope_freqs.weight") != nil {
      let f = try vector("rope_freqs.weight", config.headDim / 2)
      ropeFactors = Array(UnsafeBufferPointer(start: f.pointer, count: config.headDim / 2))
    } else {
      ropeFactors = nil
    }
    // q/k rows in Hugging Face order are put in the interleaved order (v rows stay).
    let d = config.headDim, head = Self.interleavedHeadOrder(headDim: d)
    let halves = LlamaConfig.halvesRoPEArchitectures.contains(config.architecture)
    let qkvOrder: [Int]? = halves
      ? (0..<(config.headCount + config.kvHeadCount)).flatMap { h in head.map { h * d + $0 } } + Array(config.qDim + config.kvDim..<config.qDim + 2 * config.kvDim)
      : nil
    func headNorm(_ name: String) throws(ModelError) -> FloatBuffer? {
      guard config.qkNorm else { return nil }
      let w = try vector(name, d)
      guard halves else { return w }
      let copy = Array(UnsafeBufferPointer(start: w.pointer, count: d))
      for (to, from) in head.enumerated() { w.pointer[to] = copy[from] }
      return w
    }
    var blocks: [BlockWeights] = []
    for l in 0..<config.layerCount {
      let p = "blk.\(l)."
      let qkvBias = config.attentionBias ? [p + "attn_q.bias", p + "attn_k.bias", p + "attn_v.bias"] : nil
      blocks.append(BlockWeights(
        attentionNorm: try vector(p + "attn_norm.weight", c),
        qkv: try Linear.load(file, names: [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"],
                             rows: [config.qDim, config.kvDim, config.kvDim], columns: c, biases: qkvBias, rowOrder: qkvOrder,
                             keepQuantized: keep),
        output: try Linear.load(file, names: [p + "attn_output.weight"], rows: [c], columns: config.qDim, keepQuantized: keep),
        ffnNorm: try vector(p + "ffn_norm.weight", c),
        gateUp: try Linear.load(file, names: [p + "ffn_gate.weight", p + "ffn_up.weight"],
                                rows: [config.feedForwardSize, config.feedForwardSize], columns: c, keepQuantized: keep),
        down: try Linear.load(file, names: [p + "ffn_down.weight"], rows: [c], columns: config.feedForwardSize, keepQuantized: keep),
        qNorm: try headNorm(p + "attn_q_norm.weight"), kNorm: try headNorm(p + "attn_k_norm.weight")))
      // The block's weights are copied out of the file (fp32 or blocks): the pages read so far can
      // go, so the mapped file and the copies never both stay resident (a 4.6 GB model peaked at
      // 9 GB before).
      file.releaseTensorPages()
    }
    self.blocks = blocks
  }
}
