import Checkpoint
import Foundation
import GGUF
import Llama
import TestSupport
import Testing
import Tokenizer
import Training

/// Hugging Face checkpoint folders (config.json, safetensors, tokenizer.json) of the tiny Llama 3,
/// Qwen2 and Qwen3 models (`TinyFamilies.checkpoint`, written by transformers in bf16) load as the GGUF files llama.cpp's converter writes: the same tensors,
/// transformers' logits and greedy tokens, the same tokenizer.
struct HFCheckpointTests {
  struct Reference: Decodable {
    struct Case: Decodable { let prompt: String; let ids: [Int]; let logits: [[Float]]; let greedy: [Int] }
    let cases: [Case]
  }

  static let tokenizerFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../TokenizerTests/Fixtures").standardizedFileURL

  @Test(arguments: ["llama3", "qwen2", "qwen3"])
  func aCheckpointIsTheGGUFFileOfItsWeightsAndTokenizer(family: String) throws {
    let converted = try GGUFFile(bytes: try HFCheckpoint.gguf(try TinyFamilies.checkpoint(family)).bytes())
    let written = try GGUFFile(path: TinyFamilies.gguf(family))  // by the gguf package, llama.cpp's conventions
    #expect(Set(converted.tensors.map(\.name)) == Set(written.tensors.map(\.name)))
    for t in written.tensors {
      let c = try #require(converted.tensor(t.name))
      #expect(c.dimensions == t.dimensions, "\(t.name)")
      var a = [Float](repeating: 0, count: t.elementCount), b = a
      try a.withUnsafeMutableBufferPointer { try written.dequantize(t, into: $0.baseAddress!) }
      try b.withUnsafeMutableBufferPointer { try converted.dequantize(c, into: $0.baseAddress!) }
      // The checkpoint holds bf16 values, the GGUF file the same values in f32. rope_freqs is
      // computed on each side (numpy float32 there, Double here): equal to an ulp.
      if t.name == "rope_freqs.weight" {
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 * abs($0) } && a.contains { $0 != 1 }, "\(t.name)")
      } else {
        #expect(a == b, "\(t.name)")
      }
    }
    for key in ["general.architecture", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"] {
      #expect(converted.metadata[key] == written.metadata[key], "\(key)")
    }
    let config = try LlamaConfig(gguf: converted)
    #expect(config == (try LlamaConfig(gguf: written)))
  }

  @Test(arguments: ["llama3", "qwen2", "qwen3"])
  func theCheckpointGivesTransformersLogitsAndGreedyTokens(family: String) throws {
    let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: TinyFamilies.directory(family) + "/reference.json")))
    let bundle = try ModelSource.load(try TinyFamilies.checkpoint(family))
    for c in ref.cases {
      #expect(bundle.tokenizer.encode(c.prompt) == c.ids)
      let logits = try bundle.model.forward([c.ids], logits: .all)
      var worst: Float = 0
      for (p, row) in c.logits.enumerated() { for (v, x) in row.enumerated() { worst = max(worst, abs(logits.values[p * logits.width + v] - x)) } }
      #expect(worst < 2e-4, "\(family): max |Δlogit| \(worst)")
      let out = try Generator(model: bundle.model, eosIDs: []).generate(prompt: c.ids, parameters: SamplingParameters(maxTokens: c.greedy.count, stopAtEOS: false))
      #expect(out.tokens == c.greedy)
    }
  }

  /// The tokenizer read from tokenizer.json gives the ids of the GGUF tokenizer on the 393 strings.
  @Test(arguments: ["llama3", "qwen2"])
  func theTokenizerFileGivesTheGGUFTokenizersIds(family: String) throws {
    let checkpoint = try ModelSource.tokenizer(try TinyFamilies.checkpoint(family))
    let gguf = try BPETokenizer(gguf: GGUFFile(path: Self.tokenizerFixtures.appendingPathComponent("\(family)/tokenizer.gguf.bin").path))
    #expect(checkpoint.preTokenizer == gguf.preTokenizer)
    struct Cases: Decodable { struct Case: Decodable { let text: String; let ids: [Int] }; let cases: [Case] }
    let cases = try JSONDecoder().decode(Cases.self, from: Data(contentsOf: Self.tokenizerFixtures.appendingPathComponent("\(family)/cases.json")))
    #expect(cases.cases.count == 393)
    for c in cases.cases { #expect(checkpoint.encode(c.text) == c.ids, "\(c.text.debugDescription)") }
  }

  /// Sharded weights (an index naming two files) in F32 load the same model.
  @Test func shardedWeightsLoadTheSameModel() throws {
    let source = try TinyFamilies.checkpoint("qwen3")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shards-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for f in ["config.json", "tokenizer.json"] { try FileManager.default.copyItem(atPath: source + "/" + f, toPath: dir + "/" + f) }
    let weights = try SafeTensorsFile(path: source + "/model.safetensors")
    var shards = [SafeTensorsWriter(), SafeTensorsWriter()], map: [String: String] = [:]
    for (i, t) in weights.tensors.enumerated() {
      try shards[i % 2].add(t.name, try weights.floatTensor(t.name))
      map[t.name] = "model-0000\(i % 2 + 1)-of-00002.safetensors"
    }
    for (i, s) in shards.enumerated() { try s.write(to: dir + "/model-0000\(i + 1)-of-00002.safetensors") }
    try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map]).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
    let sharded = try ModelSource.load(dir), single = try ModelSource.load(source)
    let ids = [5, 60, 7, 300, 12]
    #expect(try sharded.model.forward([ids], logits: .all).values == single.model.forward([ids], logits: .all).values)
    #expect(try HFCheckpoint.files(dir).count == 4)
  }

  /// A post-processor that puts a special token first (Llama 3's file: a Sequence of ByteLevel and
  /// TemplateProcessing) makes the tokenizer add BOS, as transformers' encode does; one that adds
  /// tokens elsewhere is refused.
  @Test func aTemplatePostProcessorAddsBOS() throws {
    let source = try TinyFamilies.checkpoint("llama3")
    func tokenizer(_ post: Any) throws -> BPETokenizer {
      let dir = FileManager.default.temporaryDirectory.appendingPathComponent("post-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/tokenizer.json"))) as! [String: Any]
      json["post_processor"] = post
      try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
      for f in ["config.json", "model.safetensors"] { try FileManager.default.copyItem(atPath: source + "/" + f, toPath: dir + "/" + f) }
      return try ModelSource.tokenizer(dir)
    }
    let plain = try ModelSource.tokenizer(source)
    #expect(!plain.addsBOS)
    let bos = try #require(plain.encode("<|endoftext|>").first)
    let template: [String: Any] = ["type": "TemplateProcessing",
                                   "single": [["SpecialToken": ["id": "<|endoftext|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]]]
    for post in [template, ["type": "Sequence", "processors": [["type": "ByteLevel"], template]] as [String: Any]] {
      let t = try tokenizer(post)
      #expect(t.addsBOS && t.bosID == bos)
      #expect(t.encodeInput("hello") == [bos] + plain.encode("hello"))
    }
    #expect(try !tokenizer(["type": "ByteLevel"]).addsBOS)
    let appending: [String: Any] = ["type": "TemplateProcessing",
                                    "single": [["Sequence": ["id": "A", "type_id": 0]], ["SpecialToken": ["id": "<|endoftext|>", "type_id": 0]]]]
    #expect(throws: CheckpointError.self) { _ = try tokenizer(appending) }
    #expect(throws: CheckpointError.self) { _ = try tokenizer(["type": "RobertaProcessing"]) }
  }

  /// What the converter cannot read is named: the file, the key, what it found and expected.
  @Test func badCheckpointsAreRefusedNamingFileAndKey() throws {
    let source = try TinyFamilies.checkpoint("qwen2")
    func variant(_ edit: (inout [String: Any], inout [String: Any]) -> Void) throws -> String {
      let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bad-ckpt-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/config.json"))) as! [String: Any]
      var tokenizer = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/tokenizer.json"))) as! [String: Any]
      edit(&config, &tokenizer)
      try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
      try JSONSerialization.data(withJSONObject: tokenizer).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
      try FileManager.default.copyItem(atPath: source + "/model.safetensors", toPath: dir + "/model.safetensors")
      return dir
    }
    func message(_ dir: String) -> String {
      do { _ = try ModelSource.load(dir); return "" } catch { return "\(error)" }
    }
    let gemma = try variant { c, _ in c["architectures"] = ["Gemma2ForCausalLM"] }
    #expect(message(gemma).contains("config.json: 'architectures'") && message(gemma).contains("Qwen3ForCausalLM"))
    let noHeads = try variant { c, _ in c["num_attention_heads"] = nil }
    #expect(message(noHeads).contains("'num_attention_heads' is absent; expected an integer"))
    let yarn = try variant { c, _ in c["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 1e6, "factor": 4] }
    #expect(message(yarn).contains("rope_type' is 'yarn'"))
    let wordPiece = try variant { _, t in var m = t["model"] as! [String: Any]; m["type"] = "WordPiece"; t["model"] = m }
    #expect(message(wordPiece).contains("tokenizer.json: 'model.type' is 'WordPiece'"))
    let metaspace = try variant { _, t in t["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁"] }
    #expect(message(metaspace).contains("tokenizer.json: 'pre_tokenizer' is 'Metaspace after NFC'; expected GPT-2's"))
    let missing = try variant { _, _ in }
    try FileManager.default.removeItem(atPath: missing + "/model.safetensors")
    #expect(message(missing).contains("no model.safetensors and no model.safetensors.index.json"))
  }
}
