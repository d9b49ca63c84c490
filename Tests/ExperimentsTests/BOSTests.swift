import Checkpoint
import Foundation
import Inference
import Llama
import TestSupport
import Testing
import Tokenizer

/// A model whose tokenizer adds BOS (Llama 3's tokenizer.json: a post-processor that puts
/// <|begin_of_text|> first) sees it in front of every scored prompt and every generation prompt,
/// as transformers' `tok(text)` gives it; one that does not sees the text alone.
struct BOSTests {
  /// The tiny Llama 3 checkpoint with a BOS-prepending post-processor (its <|endoftext|> as BOS).
  static func bosCheckpoint() throws -> String {
    let source = try TinyFamilies.checkpoint("llama3")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bos-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/tokenizer.json"))) as? [String: Any])
    json["post_processor"] = ["type": "Sequence", "processors": [["type": "ByteLevel"], ["type": "TemplateProcessing",
      "single": [["SpecialToken": ["id": "<|endoftext|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]]]]]
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
    for f in ["config.json", "model.safetensors"] { try FileManager.default.copyItem(atPath: source + "/" + f, toPath: dir + "/" + f) }
    return dir
  }

  @Test func scoredAndGeneratedPromptsStartWithBOSWhereTheTokenizerAddsOne() throws {
    let dir = try Self.bosCheckpoint()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let bundle = try ModelSource.load(dir)
    let bos = try #require(bundle.tokenizer.bosID)
    #expect(bundle.tokenizer.addsBOS)
    let prompt = "Review: a fine film\nSentiment:"
    let ids = bundle.tokenizer.encode(prompt)
    let labels = [5, 9]
    let scored = try PromptScorer(bundle).scores([prompt], tokenIDs: labels)[0]
    let withBOS = Array(try bundle.model.forward([[bos] + ids], logits: .last).row(0))
    let without = Array(try bundle.model.forward([ids], logits: .last).row(0))
    // The scorer's batched last-position pass and a plain forward agree to float rounding.
    func close(_ a: [Float], _ b: [Float]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) } }
    #expect(close(scored, labels.map { withBOS[$0] }))
    #expect(!close(scored, labels.map { without[$0] }))
    #expect(ModelGenerator(bundle).promptStart == [bos])

    let plain = try ModelSource.load(try TinyFamilies.checkpoint("llama3"))
    #expect(!plain.tokenizer.addsBOS && ModelGenerator(plain).promptStart.isEmpty)
    let plainScored = try PromptScorer(plain).scores([prompt], tokenIDs: labels)[0]
    let plainLogits = Array(try plain.model.forward([plain.tokenizer.encode(prompt)], logits: .last).row(0))
    #expect(close(plainScored, labels.map { plainLogits[$0] }))
  }
}
