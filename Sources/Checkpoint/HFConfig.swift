import Foundation
import GGUF

/// The keys of a Hugging Face `config.json` that the Llama-family engine reads, and the GGUF
/// metadata llama.cpp's converter writes for them (`convert_hf_to_gguf.py`).
public struct HFConfig: Sendable, Equatable {
  /// The GGUF architecture: `llama` (Llama, Llama 3, SmolLM2), `qwen2`, `qwen3`.
  public var architecture: String
  public var layers: Int
  public var hidden: Int
  public var feedForward: Int
  public var heads: Int
  public var kvHeads: Int
  public var headDim: Int
  public var vocabularySize: Int
  public var contextLength: Int
  public var ropeTheta: Double
  public var rmsNormEpsilon: Double
  public var tiedEmbeddings: Bool
  /// `rope_type: llama3` scaling (Llama 3.1/3.2): factor, low/high frequency factors, original context.
  public struct Llama3Scaling: Sendable, Equatable {
    public var factor: Double, low: Double, high: Double, original: Double
  }
  public var llama3Scaling: Llama3Scaling?
  public var eosID: Int?
  public var bosID: Int?

  /// The `architectures[0]` class names read here, by GGUF architecture.
  public static let classes = ["LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3"]

  /// Reads `config.json` at `path`.
  public init(path: String) throws(CheckpointError) {
    let object = try JSONObject.read(path)
    func int(_ key: String) throws(CheckpointError) -> Int {
      guard let v = object[key] as? NSNumber, Double(v.intValue) == v.doubleValue else {
        throw .invalid(path: path, key: key, found: JSONObject.describe(object[key]), expected: "an integer")
      }
      return v.intValue
    }
    func optionalInt(_ key: String) throws(CheckpointError) -> Int? { object[key] == nil || object[key] is NSNull ? nil : try int(key) }
    func number(_ key: String, in dict: [String: Any], default value: Double? = nil) throws(CheckpointError) -> Double {
      guard let v = dict[key] else {
        if let value { return value }
        throw .invalid(path: path, key: key, found: "absent", expected: "a number")
      }
      guard let n = v as? NSNumber else { throw .invalid(path: path, key: key, found: JSONObject.describe(v), expected: "a number") }
      return n.doubleValue
    }
    let classes = object["architectures"] as? [String] ?? []
    guard let arch = classes.lazy.compactMap({ Self.classes[$0] }).first else {
      throw .invalid(path: path, key: "architectures", found: JSONObject.describe(object["architectures"]),
                     expected: "one of \(Self.classes.keys.sorted().joined(separator: ", "))")
    }
    architecture = arch
    layers = try int("num_hidden_layers")
    hidden = try int("hidden_size")
    feedForward = try int("intermediate_size")
    heads = try int("num_attention_heads")
    kvHeads = try optionalInt("num_key_value_heads") ?? heads
    headDim = try optionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0)
    vocabularySize = try int("vocab_size")
    contextLength = try optionalInt("max_position_embeddings") ?? 2048
    rmsNormEpsilon = try number("rms_norm_eps", in: object, default: 1e-6)
    tiedEmbeddings = (object["tie_word_embeddings"] as? Bool) ?? false
    // transformers 5 writes `rope_parameters`; older files `rope_theta` and `rope_scaling`.
    let rope = (object["rope_parameters"] as? [String: Any]) ?? (object["rope_scaling"] as? [String: Any]) ?? [:]
    ropeTheta = try number("rope_theta", in: rope["rope_theta"] != nil ? rope : object, default: 10000)
    let type = (rope["rope_type"] ?? rope["type"]) as? String ?? "default"
    switch type {
    case "default": llama3Scaling = nil
    case "llama3":
      llama3Scaling = Llama3Scaling(factor: try number("factor", in: rope), low: try number("low_freq_factor", in: rope),
                                    high: try number("high_freq_factor", in: rope), original: try number("original_max_position_embeddings", in: rope))
    default:
      throw .invalid(path: path, key: "rope_parameters.rope_type", found: "'\(type)'", expected: "default or llama3")
    }
    func firstID(_ v: Any?) -> Int? { (v as? NSNumber)?.intValue ?? (v as? [NSNumber])?.first?.intValue }
    eosID = firstID(object["eos_token_id"])
    bosID = firstID(object["bos_token_id"])
    for (key, v) in [("num_hidden_layers", layers), ("hidden_size", hidden), ("intermediate_size", feedForward),
                     ("num_attention_heads", heads), ("num_key_value_heads", kvHeads), ("head_dim", headDim), ("vocab_size", vocabularySize)] where v <= 0 {
      throw .invalid(path: path, key: key, found: "\(v)", expected: "a positive integer")
    }
  }

  /// llama.cpp's `rope_freqs.weight` for Llama 3 scaling: per frequency the divisor.
  public var ropeFrequencyFactors: [Float]? {
    guard let s = llama3Scaling else { return nil }
    let lowWavelength = s.original / s.low, highWavelength = s.original / s.high
    return stride(from: 0, to: headDim, by: 2).map { i in
      let frequency = 1 / pow(ropeTheta, Double(i) / Double(headDim))
      let wavelength = 2 * Double.pi / frequency
      if wavelength < highWavelength { return 1 }
      if wavelength > lowWavelength { return Float(s.factor) }
      let smooth = (s.original / wavelength - s.low) / (s.high - s.low)
      return Float(1 / ((1 - smooth) / s.factor + smooth))
    }
  }

  /// The model keys of the GGUF file (`<arch>.block_count`, ...).
  func addMetadata(to writer: inout GGUFWriter) throws(GGUFError) {
    let a = architecture
    try writer.addMetadata("general.architecture", .string(a))
    try writer.addMetadata("\(a).block_count", .uint32(UInt32(layers)))
    try writer.addMetadata("\(a).context_length", .uint32(UInt32(contextLength)))
    try writer.addMetadata("\(a).embedding_length", .uint32(UInt32(hidden)))
    try writer.addMetadata("\(a).feed_forward_length", .uint32(UInt32(feedForward)))
    try writer.addMetadata("\(a).attention.head_count", .uint32(UInt32(heads)))
    try writer.addMetadata("\(a).attention.head_count_kv", .uint32(UInt32(kvHeads)))
    try writer.addMetadata("\(a).attention.key_length", .uint32(UInt32(headDim)))
    try writer.addMetadata("\(a).attention.value_length", .uint32(UInt32(headDim)))
    try writer.addMetadata("\(a).rope.dimension_count", .uint32(UInt32(headDim)))
    try writer.addMetadata("\(a).rope.freq_base", .float32(Float(ropeTheta)))
    try writer.addMetadata("\(a).attention.layer_norm_rms_epsilon", .float32(Float(rmsNormEpsilon)))
    try writer.addMetadata("\(a).vocab_size", .uint32(UInt32(vocabularySize)))
  }
}

/// A JSON file read as a dictionary, with type names for error messages.
enum JSONObject {
  static func read(_ path: String) throws(CheckpointError) -> [String: Any] {
    guard let data = FileManager.default.contents(atPath: path) else { throw .cannotRead(path: path, reason: "no such file or not readable") }
    do {
      guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw CheckpointError.cannotRead(path: path, reason: "not a JSON object")
      }
      return object
    } catch let e as CheckpointError {
      throw e
    } catch {
      throw .cannotRead(path: path, reason: "not valid JSON (\(error.localizedDescription))")
    }
  }

  static func describe(_ v: Any?) -> String {
    switch v {
    case nil: return "absent"
    case is NSNull: return "null"
    case let s as String: return "'\(s)'"
    case let n as NSNumber: return "\(n)"
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    default: return "\(v!)"
    }
  }
}
