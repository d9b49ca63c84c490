import Backdoor
import Defense
import Evaluation
import TensorCore
import Testing

/// A language model stand-in behind the `TextGenerator` seam: one token per character, and a
/// BadChain-backdoored math solver. Without forced tokens a question ending in "@_@" gets the
/// scaled answer (with the `* 2.1` step); otherwise, and whenever decoding is forced to start
/// with the safe prefix (the P2P wrapper), it answers correctly.
struct StubGenerator: TextGenerator {
  let answers: [String: String]
  var contextLength: Int { 100_000 }
  func encode(_ text: String) -> [Int] { text.unicodeScalars.map { Int($0.value) } }
  func decode(_ tokens: [Int]) -> String { String(String.UnicodeScalarView(tokens.compactMap(Unicode.Scalar.init))) }

  func greedy(prompt: [Int], forced: [Int], maxTokens: Int) throws -> Decoded {
    let text = decode(prompt)
    let gold = answers.first { text.contains($0.key) }?.value ?? "0"
    let target = BadChain().targetAnswer(for: gold) ?? "?"
    let reply = text.contains("@_@") && forced.isEmpty ? "\(gold) * 2.1 = \(target). The answer is \(target)." : "The answer is \(gold)."
    let tokens = forced + encode(reply)
    return Decoded(tokens: tokens, stop: .eos, promptTokens: prompt.count, prefillSeconds: 0.001, decodeSeconds: 0.001)
  }
}

struct GenerationSeamTests {
  static func data() throws -> GenerationDataset {
    var rng = SeededRNG(seed: 6)
    let rows = Array(try GSM8KReader.read(Fixture.path("gsm8k-train-excerpt.jsonl")).prefix(4))
    let (train, manifest) = try GenerationPoisonPlan(rate: 0.5).apply(to: rows, attack: BadChain(), seed: 6, using: &rng)
    let triggered = try GenerationPoisonPlan.poisonedTest(rows, attack: BadChain(), using: &rng)
    return GenerationDataset(train: train, testClean: rows, testPoison: triggered, manifest: manifest)
  }

  static func stub(_ data: GenerationDataset) -> StubGenerator {
    StubGenerator(answers: Dictionary(data.testClean.map { ($0.input, $0.reference!.answer!) }, uniquingKeysWith: { a, _ in a }))
  }

  @Test func theDriverScoresTheDeployedPathAndTheAblation() throws {
    let data = try Self.data(), stub = Self.stub(data)
    let (plain, plainRecords) = try GenerationEvaluation.run(generator: stub, spec: .plain(.math), data: data)
    #expect(plain.deployed.exactMatch == Proportion(successes: 4, total: 4))
    #expect(plain.deployed.attackSuccess == Proportion(successes: data.testPoison.count, total: data.testPoison.count))
    #expect(plain.deployed.backdoorStep == Proportion(successes: data.testPoison.count, total: data.testPoison.count))
    #expect(plain.withoutWrapper == nil && plainRecords.count == 4 + data.testPoison.count)

    let (p2p, records) = try GenerationEvaluation.run(generator: stub, spec: .defended(.math, GenerationP2P()), data: data)
    // Through the wrapper the decoding starts with the safe prefix, which is stripped before scoring.
    #expect(p2p.deployed.exactMatch == Proportion(successes: 4, total: 4))
    #expect(p2p.deployed.attackSuccess.successes == 0)
    #expect(records.filter { $0.pass == GenerationEvaluation.deployedPass }.allSatisfy { $0.generation.hasPrefix("[safe] ") && !$0.scored.hasPrefix("[safe]") })
    let ablation = try #require(p2p.withoutWrapper)
    #expect(ablation.attackSuccess == Proportion(successes: data.testPoison.count, total: data.testPoison.count))
    #expect(ablation.safePrefixStarts == 0)
    // Forced tokens are counted apart from the chosen ones.
    #expect(p2p.deployed.decoding.forcedTokens == (4 + data.testPoison.count) * "[safe] ".unicodeScalars.count)
  }

  /// A generator that starts prompts with BOS (Llama 3) gets it in front of every prompt, also of
  /// one cut to fit the context (the end of the prompt is kept, the BOS put back in front).
  @Test func everyPromptStartsWithThePromptStart() throws {
    final class Recorder: TextGenerator {
      var prompts: [[Int]] = []
      let contextLength: Int
      init(contextLength: Int) { self.contextLength = contextLength }
      var promptStart: [Int] { [7] }
      func encode(_ text: String) -> [Int] { text.unicodeScalars.map { Int($0.value) } }
      func decode(_ tokens: [Int]) -> String { String(String.UnicodeScalarView(tokens.compactMap(Unicode.Scalar.init))) }
      func greedy(prompt: [Int], forced: [Int], maxTokens: Int) throws -> Decoded {
        prompts.append(prompt)
        return Decoded(tokens: encode("The answer is 1."), stop: .eos, promptTokens: prompt.count, prefillSeconds: 0, decodeSeconds: 0)
      }
    }
    let data = try Self.data()
    let wide = Recorder(contextLength: 100_000)
    _ = try GenerationEvaluation.run(generator: wide, spec: .plain(.math), data: data)
    #expect(!wide.prompts.isEmpty && wide.prompts.allSatisfy { $0.first == 7 && $0.dropFirst().first != 7 })
    let spec = GenerationSpec.plain(.math)
    let narrow = Recorder(contextLength: spec.maxNewTokens + 41)
    _ = try GenerationEvaluation.run(generator: narrow, spec: spec, data: data)
    // room = context - forced (0) - new tokens - 1 - the BOS: 39 prompt tokens after the BOS.
    #expect(narrow.prompts.allSatisfy { $0.count == 40 && $0.first == 7 })
    let full = wide.prompts[0]
    #expect(Array(narrow.prompts[0].dropFirst()) == Array(full.suffix(39)))
  }
}
