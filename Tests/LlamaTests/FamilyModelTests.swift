import Foundation
import GGUF
import Llama
import Testing

/// Tiny random models of the Llama 3, Qwen2 and Qwen3 families (scripts/fixtures/tiny_families.py:
/// transformers' own classes, saved as GGUF the way llama.cpp's converter writes them) against
/// transformers: the logits at every position of three prompts and 8 greedy tokens each.
struct FamilyModelTests {
  struct Reference: Decodable {
    struct Case: Decodable {
      let prompt: String
      let ids: [Int]
      let logits: [[Float]]
      let greedy: [Int]
    }
    let family: String
    let ggufArchitecture: String
    let cases: [Case]
  }

  static func load(_ family: String) throws -> (Reference, LlamaModel) {
    let dir = try #require(Bundle.module.url(forResource: "families/" + family, withExtension: nil, subdirectory: "Fixtures"),
                           "Fixtures/families/\(family) is missing: run scripts/fixtures/tiny_families.py")
    let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
    return (ref, try LlamaModel(gguf: try GGUFFile(path: dir.appendingPathComponent("model.gguf.bin").path)))
  }

  @Test func eachFamilyReadsItsConfiguration() throws {
    let (_, llama) = try Self.load("llama3")
    #expect(llama.config.architecture == "llama" && !llama.config.tiedEmbeddings && !llama.config.qkNorm)
    #expect(llama.weights.ropeFactors?.count == 8 && llama.weights.ropeFactors?.last == 8)
    let (_, qwen2) = try Self.load("qwen2")
    #expect(qwen2.config.architecture == "qwen2" && qwen2.config.attentionBias && qwen2.config.tiedEmbeddings)
    let (_, qwen3) = try Self.load("qwen3")
    #expect(qwen3.config.architecture == "qwen3" && qwen3.config.qkNorm && !qwen3.config.attentionBias)
    #expect(qwen3.config.headDim == 32 && qwen3.config.qDim == 128 && qwen3.config.hiddenSize == 64)
  }

  @Test(arguments: ["llama3", "qwen2", "qwen3"])
  func logitsAtEveryPositionMatchTransformers(family: String) throws {
    let (ref, model) = try Self.load(family)
    for c in ref.cases {
      let logits = try model.forward([c.ids], logits: .all)
      #expect(logits.width == c.logits[0].count)
      var worst: Float = 0
      for (p, row) in c.logits.enumerated() {
        for (v, x) in row.enumerated() { worst = max(worst, abs(logits.values[p * logits.width + v] - x)) }
      }
      // Logits up to ~9 in size; fp32 with another summation order and 6-decimal fixtures.
      #expect(worst < 2e-4, "\(family) \(c.prompt.debugDescription): max |Δlogit| \(worst)")
    }
  }

  @Test(arguments: ["llama3", "qwen2", "qwen3"])
  func greedyDecodingWithTheCacheMatchesTransformers(family: String) throws {
    let (ref, model) = try Self.load(family)
    let gen = Generator(model: model, eosIDs: [])
    for c in ref.cases {
      let out = try gen.generate(prompt: c.ids, parameters: SamplingParameters(maxTokens: c.greedy.count, stopAtEOS: false))
      #expect(out.tokens == c.greedy, "\(family) \(c.prompt.debugDescription)")
    }
  }

  /// Without the load-time permutation of q/k (and of the Qwen3 norms) the halves-RoPE families
  /// would compute another function: the order is what makes them match.
  @Test func theInterleavedHeadOrderIsLlamaCppsPermutation() {
    #expect(LlamaWeights.interleavedHeadOrder(headDim: 8) == [0, 4, 1, 5, 2, 6, 3, 7])
  }
}
