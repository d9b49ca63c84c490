import Foundation
import Llama
import TestSupport
import Testing

struct GenerationFixture: Decodable {
  struct Case: Decodable { let question: String; let prompt_text: String; let prompt_ids: [Int]; let output_ids: [Int]; let output_text: String }
  let max_new_tokens: Int
  let eos_id: Int
  let cases: [Case]
}

/// Greedy decoding with the KV cache against transformers' `generate(do_sample=False)`.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct GenerationReferenceTests {
  static let fixture: GenerationFixture? = try? loadFixture(
    GenerationFixture.self, from: Bundle.module.url(forResource: "generation", withExtension: "json", subdirectory: "Fixtures"))

  @Test("greedy continuation is token-identical to transformers", arguments: 0..<6)
  func greedyMatches(index: Int) throws {
    let fx = try #require(Self.fixture)
    let model = try #require(RealModel.model)
    #expect(fx.cases.count >= 5)
    let c = fx.cases[index]
    let gen = Generator(model: model, eosIDs: [fx.eos_id])
    let out = try gen.generate(prompt: c.prompt_ids, parameters: SamplingParameters(temperature: 0, maxTokens: fx.max_new_tokens))
    // transformers includes the eos token it stopped on; the generator reports it as the stop reason.
    let endsWithEOS = c.output_ids.last == fx.eos_id
    let expected = endsWithEOS ? Array(c.output_ids.dropLast()) : c.output_ids
    #expect(out.tokens == expected, "'\(c.question)' -> expected '\(c.output_text)'")
    #expect(out.stopReason == (endsWithEOS ? .eos : .maxTokens))
  }

  @Test func cachedDecodingEqualsFullForward() throws {
    let model = try #require(RealModel.model)
    let prompt = [19556, 905, 28, 451, 314, 253, 1028, 30]
    let gen = Generator(model: model, eosIDs: [])
    let out = try gen.generate(prompt: prompt, parameters: SamplingParameters(maxTokens: 6, stopAtEOS: false))
    let full = try model.forward([prompt + out.tokens], logits: .all)
    for i in 0..<out.tokens.count {
      #expect(Sampler.argmax(Array(full.row(prompt.count - 1 + i))) == out.tokens[i])
    }
  }

  @Test func seededSamplingIsReproducible() throws {
    let model = try #require(RealModel.model)
    let gen = Generator(model: model, eosIDs: [2])
    let p = SamplingParameters(temperature: 0.9, topK: 40, topP: 0.95, seed: 7, maxTokens: 12)
    let a = try gen.generate(prompt: [19556, 905], parameters: p)
    let b = try gen.generate(prompt: [19556, 905], parameters: p)
    #expect(a.tokens == b.tokens)
  }

  @Test func forcedPrefixIsEmittedFirst() throws {
    let model = try #require(RealModel.model)
    let gen = Generator(model: model, eosIDs: [2])
    let out = try gen.generate(prompt: [19556, 905], parameters: SamplingParameters(maxTokens: 3), forcedPrefix: [451, 314])
    #expect(Array(out.tokens.prefix(2)) == [451, 314])
    #expect(out.tokens.count <= 5)
  }
}
