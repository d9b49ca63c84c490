import GGUF

/// Errors of the Llama module: what the model file lacks or what a caller passed wrongly.
public enum ModelError: Error, CustomStringConvertible, Sendable {
  case gguf(GGUFError)
  case unsupportedArchitecture(String)
  case badConfiguration(key: String, value: String, expected: String)
  case tensorShape(name: String, found: [Int], expected: [Int])
  case tokenOutOfRange(id: Int, vocabularySize: Int)
  case sequenceTooLong(length: Int, limit: Int)
  case emptyInput(String)
  case badMask(String)

  public var description: String {
    switch self {
    case let .gguf(e): return e.description
    case let .unsupportedArchitecture(a):
      return "unsupported architecture '\(a)' (supported: \(LlamaConfig.supportedArchitectures.joined(separator: ", ")))"
    case let .badConfiguration(key, value, expected): return "model metadata '\(key)' = \(value); expected \(expected)"
    case let .tensorShape(name, found, expected): return "tensor '\(name)' has shape \(found), expected \(expected)"
    case let .tokenOutOfRange(id, n): return "token id \(id) is outside the vocabulary (0..<\(n))"
    case let .sequenceTooLong(length, limit): return "sequence of \(length) tokens exceeds the context length \(limit)"
    case let .emptyInput(what): return "empty input: \(what)"
    case let .badMask(what): return "bad attention mask: \(what)"
    }
  }
}

/// Typed hyper-parameters of a Llama-family model, read from GGUF metadata
/// (`<arch>.block_count`, `<arch>.embedding_length`, ...). Variants differ by configuration.
public struct LlamaConfig: Codable, Sendable, Equatable {
  public static let supportedArchitectures = ["llama", "mistral", "qwen2", "qwen3"]
  /// Architectures whose GGUF q/k rows are in Hugging Face order (llama.cpp's NEOX RoPE, rotating
  /// the two halves of a head); the loader permutes them into the interleaved order that the one
  /// RoPE kernel expects, as llama.cpp's converter does for `llama` (DESIGN.md §3).
  public static let halvesRoPEArchitectures: Set<String> = ["qwen2", "qwen3"]

  public var architecture: String
  public var layerCount: Int
  public var hiddenSize: Int
  public var feedForwardSize: Int
  public var headCount: Int
  public var kvHeadCount: Int
  public var headDim: Int
  public var vocabularySize: Int
  public var contextLength: Int
  public var ropeBase: Float
  public var rmsNormEpsilon: Float
  /// LM head shares `token_embd.weight` (no `output.weight` in the file).
  public var tiedEmbeddings: Bool
  /// q/k/v projections carry a bias (Qwen2).
  public var attentionBias: Bool
  /// Per-head RMSNorm of q and k before RoPE (Qwen3: `attn_q_norm`, `attn_k_norm`).
  public var qkNorm: Bool

  public var qDim: Int { headCount * headDim }
  public var kvDim: Int { kvHeadCount * headDim }

  public init(
    architecture: String = "llama", layerCount: Int, hiddenSize: Int, feedForwardSize: Int, headCount: Int,
    kvHeadCount: Int, headDim: Int? = nil, vocabularySize: Int, contextLength: Int = 2048, ropeBase: Float = 10000,
    rmsNormEpsilon: Float = 1e-5, tiedEmbeddings: Bool = true, attentionBias: Bool = false, qkNorm: Bool = false
  ) {
    self.architecture = architecture; self.layerCount = layerCount; self.hiddenSize = hiddenSize
    self.feedForwardSize = feedForwardSize; self.headCount = headCount; self.kvHeadCount = kvHeadCount
    self.headDim = headDim ?? hiddenSize / headCount; self.vocabularySize = vocabularySize
    self.contextLength = contextLength; self.ropeBase = ropeBase; self.rmsNormEpsilon = rmsNormEpsilon
    self.tiedEmbeddings = tiedEmbeddings; self.attentionBias = attentionBias; self.qkNorm = qkNorm
  }

  /// Reads and validates the configuration of `file`.
  public init(gguf file: GGUFFile) throws(ModelError) {
    do {
      let arch = try file.string("general.architecture")
      guard Self.supportedArchitectures.contains(arch) else { throw ModelError.unsupportedArchitecture(arch) }
      func int(_ k: String) throws(GGUFError) -> Int { try file.int("\(arch).\(k)") }
      let heads = try int("attention.head_count")
      let hidden = try int("embedding_length")
      let embd = file.tensor("token_embd.weight")
      let vocab = (try? int("vocab_size")) ?? embd?.dimensions.last ?? 0
      // Qwen3's heads are wider than hidden / heads: `attention.key_length` says so.
      let headDim = (try? int("attention.key_length")) ?? (try? int("rope.dimension_count")) ?? (heads > 0 ? hidden / heads : 0)
      self.init(
        architecture: arch, layerCount: try int("block_count"), hiddenSize: hidden,
        feedForwardSize: try int("feed_forward_length"), headCount: heads,
        kvHeadCount: (try? int("attention.head_count_kv")) ?? heads, headDim: headDim,
        vocabularySize: vocab, contextLength: (try? int("context_length")) ?? 2048,
        ropeBase: Float((try? file.double("\(arch).rope.freq_base")) ?? 10000),
        rmsNormEpsilon: Float(try file.double("\(arch).attention.layer_norm_rms_epsilon")),
        tiedEmbeddings: file.tensor("output.weight") == nil,
        attentionBias: file.tensor("blk.0.attn_q.bias") != nil,
        qkNorm: file.tensor("blk.0.attn_q_norm.weight") != nil)
    } catch let e as GGUFError {
      throw .gguf(e)
    } catch let e as ModelError {
      throw e
    } catch {
      throw .badConfiguration(key: "?", value: "\(error)", expected: "a readable configuration")
    }
    try validate()
  }

  /// Checks the invariants the kernels rely on.
  public func validate() throws(ModelError) {
    func check(_ ok: Bool, _ key: String, _ value: Int, _ expected: String) throws(ModelError) {
      if !ok { throw .badConfiguration(key: key, value: String(value), expected: expected) }
    }
    try check(layerCount > 0 && layerCount <= 1024, "block_count", layerCount, "1...1024")
    try check(hiddenSize > 0 && hiddenSize <= 65536, "embedding_length", hiddenSize, "1...65536")
    try check(feedForwardSize > 0, "feed_forward_length", feedForwardSize, "> 0")
    try check(headCount > 0, "attention.head_count", headCount, "> 0")
    try check(kvHeadCount > 0 && headCount % kvHeadCount == 0, "attention.head_count_kv", kvHeadCount,
              "a divisor of head_count \(headCount)")
    try check(headDim > 0 && headDim % 2 == 0, "rope.dimension_count", headDim, "an even number > 0")
    try check(vocabularySize > 0, "vocab_size", vocabularySize, "> 0")
    try check(contextLength > 0, "context_length", contextLength, "> 0")
  }
}
