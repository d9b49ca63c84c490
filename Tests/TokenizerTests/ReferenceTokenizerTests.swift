import Foundation
import GGUF
import Testing
import Tokenizer

/// The real SmolLM2 tokenizer against transformers' tokenizer loaded from the same GGUF.
/// Skipped (visibly, with the reason) when the model is not in the cache: run scripts/setup.sh.
@Suite(.enabled(if: Reference.modelAvailable,
                "needs $P2P_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf (default ~/.cache/p2p): run scripts/setup.sh"))
struct ReferenceTokenizerTests {
  @Test func metadataOfTheDefaultModel() throws {
    let tok = try Reference.loadTokenizer()
    #expect(tok.vocabularySize == 49152)
    #expect(tok.eosID == 2)
    #expect(tok.bosID == 1)
    #expect(tok.padID == 2)
    #expect(tok.unknownID == 0)
    #expect(tok.addsBOS == false)
    #expect(tok.preTokenizer == .gpt2)
    #expect(tok.token(1) == "<|im_start|>")
    #expect(tok.token(49152) == nil)
    #expect((0..<17).allSatisfy(tok.isSpecial))
    #expect(!tok.isSpecial(17) && !tok.isSpecial(19556))
  }

  @Test func referenceSentence() throws {
    let tok = try Reference.loadTokenizer()
    let ids = tok.encode("Hello world, this is a test.")
    #expect(ids == [19556, 905, 28, 451, 314, 253, 1028, 30])
    #expect(tok.decode(ids) == "Hello world, this is a test.")
  }

  @Test func fixtureIsForThisModel() throws {
    let fixture = try Reference.fixture()
    #expect(fixture.modelSHA256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
    #expect(fixture.cases.count >= 300)
  }

  @Test func everyFixtureStringEncodesToTheReferenceIds() throws {
    let tok = try Reference.loadTokenizer()
    let fixture = try Reference.fixture()
    var failures = 0
    for c in fixture.cases {
      let ids = tok.encode(c.text)
      if ids != c.ids {
        failures += 1
        Issue.record("encode(\(c.text.debugDescription)) = \(ids), transformers: \(c.ids)")
      }
      if let split = c.idsSplitSpecial {
        let plain = tok.encode(c.text, parseSpecial: false)
        #expect(plain == split, "encode(\(c.text.debugDescription), parseSpecial: false)")
      }
    }
    #expect(failures == 0)
  }

  @Test func everyFixtureDecodesToTheReferenceText() throws {
    let tok = try Reference.loadTokenizer()
    let fixture = try Reference.fixture()
    for c in fixture.cases {
      let text = tok.decode(c.ids)
      #expect(sameScalars(text, c.decoded), "decode(\(c.ids)) = \(text.debugDescription), transformers: \(c.decoded.debugDescription)")
      if let skipped = c.decodedSkipSpecial {
        let text = tok.decode(c.ids, skipSpecial: true)
        #expect(sameScalars(text, skipped), "decode(\(c.ids), skipSpecial: true) = \(text.debugDescription)")
      }
    }
    for c in fixture.decodeCases {
      let text = tok.decode(c.ids, skipSpecial: c.skipSpecial)
      #expect(sameScalars(text, c.text), "decode(\(c.ids), skipSpecial: \(c.skipSpecial)) = \(text.debugDescription), transformers: \(c.text.debugDescription)")
    }
  }

  @Test func chatTemplateMatchesTransformers() throws {
    let file = try GGUFFile(path: Reference.modelPath)
    let template = try ChatTemplate(gguf: file)
    #expect(template.defaultSystemPrompt == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    let fixture = try Reference.fixture()
    #expect(fixture.chatCases.count >= 8)
    for c in fixture.chatCases {
      let text = template.render(c.messages, addGenerationPrompt: c.addGenerationPrompt)
      #expect(sameScalars(text, c.text), "render(\(c.messages), addGenerationPrompt: \(c.addGenerationPrompt)) = \(text.debugDescription)")
    }
  }

  /// llama.cpp's `smollm` (digits isolated first) differs from transformers only around
  /// whitespace before digits; both agree elsewhere.
  @Test func individualDigitsVariant() throws {
    let file = try GGUFFile(path: Reference.modelPath)
    let llama = try BPETokenizer(gguf: file, preTokenizer: .gpt2IndividualDigits)
    let tok = try Reference.loadTokenizer()
    #expect(tok.encode("a  1") == [81, 216, 216, 33])
    #expect(llama.encode("a  1") == [81, tok.encode("  ")[0], 33])
    for text in ["Hello world, this is a test.", "x 12345", "In 2024, 15% of 300 people"] {
      #expect(llama.encode(text) == tok.encode(text), "\(text)")
    }
  }

  @Test(.enabled(if: Reference.sst2Available, "needs ../shared/data/sst2/test.tsv next to the repository"))
  func sst2RoundTripAndSpeed() throws {
    let file = try GGUFFile(path: Reference.modelPath)
    let tok = try BPETokenizer(gguf: file)  // fresh instance: empty word cache
    let sentences = try #require(Reference.sst2Sentences(256))
    #expect(sentences.count == 256)
    let clock = ContinuousClock()
    var encoded: [[Int]] = []
    let elapsed = clock.measure { encoded = sentences.map { tok.encode($0) } }
    for (s, ids) in zip(sentences, encoded) { #expect(sameScalars(tok.decode(ids), s)) }
    // The goal is well under 50 ms in a release build; this bound only catches a pathology in
    // debug builds too.
    #expect(elapsed < .seconds(2), "256 SST-2 sentences took \(elapsed)"); let t0 = clock.now; let tok2 = try BPETokenizer(gguf: file); let initTime = clock.now - t0
    let warm = clock.measure { encoded = sentences.map { tok.encode($0) } }
    let cold2 = clock.measure { encoded = sentences.map { tok2.encode($0) } }
    #expect(elapsed < .zero, "TIMING cold \(elapsed) warm \(warm) cold2 \(cold2) init \(initTime)")
  }
}
