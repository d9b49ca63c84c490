import Foundation
import GGUF
import Llama
import Tokenizer
import Training

/// A Hugging Face checkpoint folder (`config.json`, `model.safetensors` or shards with
/// `model.safetensors.index.json`, `tokenizer.json`; optionally `tokenizer_config.json` with the
/// chat template and `generation_config.json`) turned into the GGUF file llama.cpp's converter
/// would write (`convert_hf_to_gguf.py`): the same metadata and tensor names, F32/F16/BF16 tensors
/// kept in their type, Llama's q/k rows permuted for interleaved RoPE (Qwen's stay in Hugging
/// Face order; the loader permutes them), Llama 3's `rope_freqs.weight`. The engine then loads it
/// as any GGUF file, so both routes share one loader.
///
/// The conversion holds the checkpoint and the GGUF bytes in memory (about twice the checkpoint's
/// size at the peak): convert a large model once with `p2p convert` instead.
public enum HFCheckpoint {
  /// Whether `path` is a folder with a `config.json`.
  public static func isCheckpoint(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
      && FileManager.default.fileExists(atPath: path + "/config.json")
  }

  /// The files whose content defines the model (for fingerprints): config, tokenizer, weights.
  public static func files(_ directory: String) throws(CheckpointError) -> [String] {
    try ["config.json", "tokenizer.json"].map { directory + "/" + $0 } + weightFiles(directory).map { directory + "/" + $0 }
  }

  /// The safetensors files: the shards the index names, else `model.safetensors`.
  static func weightFiles(_ directory: String) throws(CheckpointError) -> [String] {
    let index = directory + "/model.safetensors.index.json"
    if FileManager.default.fileExists(atPath: index) {
      guard let map = try JSONObject.read(index)["weight_map"] as? [String: String], !map.isEmpty else {
        throw .invalid(path: index, key: "weight_map", found: "absent or empty", expected: "an object of tensor -> shard file")
      }
      return Array(Set(map.values)).sorted()
    }
    guard FileManager.default.fileExists(atPath: directory + "/model.safetensors") else {
      throw .cannotRead(path: directory, reason: "no model.safetensors and no model.safetensors.index.json")
    }
    return ["model.safetensors"]
  }

  /// The end-of-sequence id: config.json's `eos_token_id`, else generation_config.json's (the first
  /// of a list).
  static func eosID(_ directory: String, config: HFConfig) throws -> Int {
    let generation = directory + "/generation_config.json"
    let generationEOS = FileManager.default.fileExists(atPath: generation)
      ? { (v: Any?) in (v as? NSNumber)?.intValue ?? (v as? [NSNumber])?.first?.intValue }(try JSONObject.read(generation)["eos_token_id"]) : nil
    guard let eos = config.eosID ?? generationEOS else {
      throw CheckpointError.invalid(path: directory + "/config.json", key: "eos_token_id", found: "absent", expected: "the end-of-sequence id")
    }
    return eos
  }

  /// The GGUF file of the checkpoint in `directory`.
  public static func gguf(_ directory: String) throws -> GGUFWriter {
    let config = try HFConfig(path: directory + "/config.json")
    let tokenizer = try HFTokenizerFile(path: directory + "/tokenizer.json", vocabularySize: config.vocabularySize)
    var writer = GGUFWriter()
    try config.addMetadata(to: &writer)
    let eos = try eosID(directory, config: config)
    let tokenizerConfig = directory + "/tokenizer_config.json"
    var template = FileManager.default.fileExists(atPath: tokenizerConfig) ? try JSONObject.read(tokenizerConfig)["chat_template"] as? String : nil
    if let jinja = try? String(contentsOfFile: directory + "/chat_template.jinja", encoding: .utf8) { template = jinja }
    try tokenizer.addMetadata(to: &writer, eosID: eos, bosID: config.bosID, chatTemplate: template)

    // Tensors, in llama.cpp's names.
    var shards: [String: SafeTensorsFile] = [:]
    for file in try weightFiles(directory) { shards[file] = try SafeTensorsFile(path: directory + "/" + file) }
    func find(_ name: String) -> (SafeTensorsFile, SafeTensorsFile.TensorInfo)? {
      for f in shards.values { if let t = f.info(name) { return (f, t) } }
      return nil
    }
    let permuteQK = !LlamaConfig.halvesRoPEArchitectures.contains(config.architecture)
    func add(_ hf: String, _ name: String, permuteHeads: Int? = nil, optional: Bool = false) throws {
      guard let (file, info) = find(hf) else {
        if optional { return }
        throw CheckpointError.missingTensor(path: directory, tensor: hf)
      }
      let type: GGMLType
      switch info.dtype {
      case .f32: type = .f32
      case .f16: type = .f16
      case .bf16: type = .bf16
      default: throw CheckpointError.invalid(path: file.path, key: hf, found: info.dtype.rawValue, expected: "F32, F16 or BF16")
      }
      var bytes = [UInt8](try file.bytes(hf))
      if let heads = permuteHeads, permuteQK { bytes = permutedRows(bytes, rows: info.shape[0], heads: heads) }
      try writer.addTensor(name, type: type, dimensions: info.shape.reversed(), data: bytes)
    }
    if let factors = config.ropeFrequencyFactors {
      try writer.addTensor("rope_freqs.weight", type: .f32, dimensions: [factors.count], data: factors.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
    }
    try add("model.embed_tokens.weight", "token_embd.weight")
    if !config.tiedEmbeddings { try add("lm_head.weight", "output.weight") }
    try add("model.norm.weight", "output_norm.weight")
    for l in 0..<config.layers {
      let p = "model.layers.\(l).", b = "blk.\(l)."
      try add(p + "input_layernorm.weight", b + "attn_norm.weight")
      try add(p + "self_attn.q_proj.weight", b + "attn_q.weight", permuteHeads: config.heads)
      try add(p + "self_attn.k_proj.weight", b + "attn_k.weight", permuteHeads: config.kvHeads)
      try add(p + "self_attn.v_proj.weight", b + "attn_v.weight")
      try add(p + "self_attn.q_proj.bias", b + "attn_q.bias", permuteHeads: config.heads, optional: true)
      try add(p + "self_attn.k_proj.bias", b + "attn_k.bias", permuteHeads: config.kvHeads, optional: true)
      try add(p + "self_attn.v_proj.bias", b + "attn_v.bias", optional: true)
      try add(p + "self_attn.q_norm.weight", b + "attn_q_norm.weight", optional: true)
      try add(p + "self_attn.k_norm.weight", b + "attn_k_norm.weight", optional: true)
      try add(p + "self_attn.o_proj.weight", b + "attn_output.weight")
      try add(p + "post_attention_layernorm.weight", b + "ffn_norm.weight")
      try add(p + "mlp.gate_proj.weight", b + "ffn_gate.weight")
      try add(p + "mlp.up_proj.weight", b + "ffn_up.weight")
      try add(p + "mlp.down_proj.weight", b + "ffn_down.weight")
    }
    return writer
  }

  /// llama.cpp's q/k permutation of the rows of a (rows, ...) tensor's raw bytes: within each of
  /// `heads` heads, Hugging Face row t·(d/2)+j becomes row 2j+t (d the head's rows).
  static func permutedRows(_ bytes: [UInt8], rows: Int, heads: Int) -> [UInt8] {
    let rowBytes = bytes.count / rows, d = rows / heads
    var out = bytes
    let order = LlamaWeights.interleavedHeadOrder(headDim: d)
    for h in 0..<heads {
      for (to, from) in order.enumerated() {
        let dst = (h * d + to) * rowBytes, src = (h * d + from) * rowBytes
        out.replaceSubrange(dst..<dst + rowBytes, with: bytes[src..<src + rowBytes])
      }
    }
    return out
  }

  /// The model of the checkpoint in `directory`, ready to use.
  public static func load(_ directory: String, base: BaseWeights = .auto) throws -> ModelBundle {
    let clock = ContinuousClock(), t0 = clock.now
    let file = try GGUFFile(bytes: try gguf(directory).bytes())
    return try ModelBundle(file: file, path: directory, since: t0, base: base)
  }
}

/// Opens a model by name, GGUF path or Hugging Face checkpoint folder.
public enum ModelSource {
  public static func load(_ nameOrPath: String, base: BaseWeights = .auto) throws -> ModelBundle {
    HFCheckpoint.isCheckpoint(nameOrPath) ? try HFCheckpoint.load(nameOrPath, base: base) : try ModelBundle.load(nameOrPath, base: base)
  }

  /// The path of a model name or file, or the checkpoint folder itself.
  public static func resolve(_ nameOrPath: String) throws -> String {
    HFCheckpoint.isCheckpoint(nameOrPath) ? nameOrPath : try ModelStore.resolve(nameOrPath)
  }

  /// The tokenizer alone (no weights read).
  public static func tokenizer(_ nameOrPath: String) throws -> BPETokenizer {
    guard HFCheckpoint.isCheckpoint(nameOrPath) else { return try BPETokenizer(gguf: GGUFFile(path: try ModelStore.resolve(nameOrPath))) }
    let config = try HFConfig(path: nameOrPath + "/config.json")
    let file = try HFTokenizerFile(path: nameOrPath + "/tokenizer.json", vocabularySize: config.vocabularySize)
    var writer = GGUFWriter()
    try file.addMetadata(to: &writer, eosID: try HFCheckpoint.eosID(nameOrPath, config: config), bosID: config.bosID, chatTemplate: nil)
    return try BPETokenizer(gguf: GGUFFile(bytes: writer.bytes()))
  }

  /// The files that define the model: the GGUF file, or the checkpoint's config, tokenizer and weights.
  public static func files(_ nameOrPath: String) throws -> [String] {
    HFCheckpoint.isCheckpoint(nameOrPath) ? try HFCheckpoint.files(nameOrPath) : [try ModelStore.resolve(nameOrPath)]
  }
}
