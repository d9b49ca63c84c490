import GGUF
import TensorCore

/// GGUF files of random weights at the real shapes of the paper's model families, for benchmarks
/// that need nothing downloaded (`p2p bench --write-synthetic`). The tokenizer keys are copied
/// from a real byte-level BPE model and the vocabulary padded to the shape's size, so the scoring
/// and decoding workloads run unchanged; the values are seeded uniform weights of standard
/// deviation 0.02 (norms 1).
public enum SyntheticModel {
  /// A model shape: the configuration keys of the real family at that size.
  public struct Shape: Sendable, Equatable {
    public var name: String
    public var architecture: String
    public var layers: Int
    public var hidden: Int
    public var feedForward: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var vocabulary: Int
    public var tied: Bool
    public var ropeTheta: Float

    public var parameters: Int {
      let attention = hidden * (heads + 2 * kvHeads) * headDim + heads * headDim * hidden
      return layers * (attention + 3 * hidden * feedForward) + vocabulary * hidden * (tied ? 1 : 2)
    }
  }

  /// Qwen3-0.6B, Llama-3.2-1B and Qwen3-8B as their config.json files state them.
  public static let shapes: [Shape] = [
    Shape(name: "qwen3-0.6b", architecture: "qwen3", layers: 28, hidden: 1024, feedForward: 3072, heads: 16, kvHeads: 8, headDim: 128,
          vocabulary: 151_936, tied: true, ropeTheta: 1_000_000),
    Shape(name: "llama-3.2-1b", architecture: "llama", layers: 16, hidden: 2048, feedForward: 8192, heads: 32, kvHeads: 8, headDim: 64,
          vocabulary: 128_256, tied: true, ropeTheta: 500_000),
    Shape(name: "qwen3-8b", architecture: "qwen3", layers: 36, hidden: 4096, feedForward: 12288, heads: 32, kvHeads: 8, headDim: 128,
          vocabulary: 151_936, tied: false, ropeTheta: 1_000_000),
  ]

  /// Writes the shape with projections and embeddings in `type` (`.q4_0`, `.q4_K` or `.f32`) to `path`,
  /// taking the tokenizer keys from `tokenizerSource`.
  public static func write(_ shape: Shape, type: GGMLType, tokenizerSource: GGUFFile, to path: String, seed: UInt64 = 1) throws(GGUFError) {
    precondition([.q4_0, .q4_K, .f32].contains(type), "q4_0, q4_K or f32")
    var w = GGUFWriter()
    let a = shape.architecture
    try w.addMetadata("general.architecture", .string(a))
    try w.addMetadata("general.name", .string("synthetic \(shape.name) (random weights)"))
    for (key, value) in [("block_count", shape.layers), ("context_length", 4096), ("embedding_length", shape.hidden),
                         ("feed_forward_length", shape.feedForward), ("attention.head_count", shape.heads),
                         ("attention.head_count_kv", shape.kvHeads), ("attention.key_length", shape.headDim),
                         ("attention.value_length", shape.headDim), ("rope.dimension_count", shape.headDim), ("vocab_size", shape.vocabulary)] {
      try w.addMetadata("\(a).\(key)", .uint32(UInt32(value)))
    }
    try w.addMetadata("\(a).rope.freq_base", .float32(shape.ropeTheta))
    try w.addMetadata("\(a).attention.layer_norm_rms_epsilon", .float32(1e-6))
    // The source's tokenizer, its vocabulary padded with unused entries.
    for key in tokenizerSource.metadataKeys where key.hasPrefix("tokenizer.") && key != "tokenizer.chat_template" {
      guard var value = tokenizerSource.metadata[key] else { continue }
      if case let .array(items) = value, key == "tokenizer.ggml.tokens", items.count < shape.vocabulary {
        value = .array(items + (items.count..<shape.vocabulary).map { .string("[PAD\($0)]") })
      } else if case let .array(items) = value, key == "tokenizer.ggml.token_type", items.count < shape.vocabulary {
        value = .array(items + Array(repeating: .int32(5), count: shape.vocabulary - items.count))
      }
      try w.addMetadata(key, value)
    }
    var rng = SeededRNG(seed: seed)
    func matrix(_ name: String, rows: Int, columns: Int) throws(GGUFError) {
      var data: [UInt8] = []
      data.reserveCapacity(rows * columns / type.blockSize * type.blockBytes)
      var row = [Float](repeating: 0, count: columns)
      for _ in 0..<rows {
        // Two uniform values per draw in (-0.0346, 0.0346): standard deviation 0.02.
        var j = 0
        while j < columns {
          let bits = rng.next()
          row[j] = (Float(bits & 0xFF_FFFF) / 16_777_216 - 0.5) * 0.0693
          if j + 1 < columns { row[j + 1] = (Float((bits >> 32) & 0xFF_FFFF) / 16_777_216 - 0.5) * 0.0693 }
          j += 2
        }
        switch type {
        case .f32: row.withUnsafeBytes { data.append(contentsOf: $0) }
        case .q4_K: data.append(contentsOf: row.withUnsafeBufferPointer { Quantize.q4_K($0) })
        default: data.append(contentsOf: row.withUnsafeBufferPointer { Quantize.q4_0($0) })
        }
      }
      try w.addTensor(name, type: type, dimensions: [columns, rows], data: data)
    }
    func ones(_ name: String, _ n: Int) throws(GGUFError) {
      try w.addTensor(name, type: .f32, dimensions: [n], data: [Float](repeating: 1, count: n).withUnsafeBytes { Array($0) })
    }
    try matrix("token_embd.weight", rows: shape.vocabulary, columns: shape.hidden)
    if !shape.tied { try matrix("output.weight", rows: shape.vocabulary, columns: shape.hidden) }
    try ones("output_norm.weight", shape.hidden)
    for l in 0..<shape.layers {
      let p = "blk.\(l)."
      try ones(p + "attn_norm.weight", shape.hidden)
      try matrix(p + "attn_q.weight", rows: shape.heads * shape.headDim, columns: shape.hidden)
      try matrix(p + "attn_k.weight", rows: shape.kvHeads * shape.headDim, columns: shape.hidden)
      try matrix(p + "attn_v.weight", rows: shape.kvHeads * shape.headDim, columns: shape.hidden)
      if a == "qwen3" {
        try ones(p + "attn_q_norm.weight", shape.headDim)
        try ones(p + "attn_k_norm.weight", shape.headDim)
      }
      try matrix(p + "attn_output.weight", rows: shape.hidden, columns: shape.heads * shape.headDim)
      try ones(p + "ffn_norm.weight", shape.hidden)
      try matrix(p + "ffn_gate.weight", rows: shape.feedForward, columns: shape.hidden)
      try matrix(p + "ffn_up.weight", rows: shape.feedForward, columns: shape.hidden)
      try matrix(p + "ffn_down.weight", rows: shape.hidden, columns: shape.feedForward)
    }
    try w.write(to: path)
  }
}
