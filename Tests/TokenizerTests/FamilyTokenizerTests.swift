import Foundation
import GGUF
import Testing
import Tokenizer

/// The Llama 3 and Qwen2 pre-tokenizers against the `tokenizers` library: for each family a small
/// BPE trained under the family's exact pipeline (scripts/fixtures/family_tokenizer_fixtures.py),
/// read from its GGUF tokenizer keys, must give the library's ids and split pieces for the 393
/// strings of the SmolLM2 fixture.
struct FamilyTokenizerTests {
  struct Fixture: Decodable {
    struct Case: Decodable {
      let text: String
      let ids: [Int]
      let pieces: [String]
      let decoded: String
    }
    let family: String
    let ggufPre: String
    let nfc: Bool
    let vocabularySize: Int
    let cases: [Case]
  }

  static func load(_ family: String) throws -> (Fixture, BPETokenizer) {
    let dir = try #require(Bundle.module.url(forResource: family, withExtension: nil, subdirectory: "Fixtures"),
                           "Fixtures/\(family) is missing: run scripts/fixtures/family_tokenizer_fixtures.py")
    let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: dir.appendingPathComponent("cases.json")))
    let tokenizer = try BPETokenizer(gguf: try GGUFFile(path: dir.appendingPathComponent("tokenizer.gguf.bin").path))
    return (fixture, tokenizer)
  }

  @Test(arguments: [("llama3", PreTokenizer.llama3), ("qwen2", PreTokenizer.qwen2)])
  func everyFixtureStringGivesTheLibrarysIds(family: String, expected: PreTokenizer) throws {
    let (fixture, tok) = try Self.load(family)
    #expect(tok.preTokenizer == expected && tok.metadata.preTokenizerName == fixture.ggufPre)
    #expect(tok.vocabularySize == fixture.vocabularySize && fixture.cases.count == 393)
    var failures = 0
    for c in fixture.cases {
      let ids = tok.encode(c.text)
      if ids != c.ids {
        failures += 1
        if failures <= 10 { Issue.record("\(family): encode(\(c.text.debugDescription)) = \(ids), tokenizers: \(c.ids)") }
      }
      #expect(tok.decode(ids) == c.decoded, "\(family): decode of \(c.text.debugDescription)")
    }
    #expect(failures == 0)
  }

  /// The split alone, on the (normalized) text between added tokens, piece by piece.
  @Test(arguments: [("llama3", PreTokenizer.llama3), ("qwen2", PreTokenizer.qwen2)])
  func theSplitGivesTheRegexPieces(family: String, pre: PreTokenizer) throws {
    let (fixture, _) = try Self.load(family)
    var failures = 0
    for c in fixture.cases {
      let text = fixture.nfc ? c.text.precomposedStringWithCanonicalMapping : c.text
      // The added tokens are matched whole before the split.
      var segments = [text]
      for special in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] { segments = segments.flatMap { $0.components(separatedBy: special) } }
      let pieces = segments.flatMap(pre.words(of:))
      if pieces != c.pieces {
        failures += 1
        if failures <= 10 { Issue.record("\(family): words(of: \(c.text.debugDescription)) = \(pieces), regex: \(c.pieces)") }
      }
    }
    #expect(failures == 0)
  }

  /// Llama 3 takes a word that is a vocabulary entry whole (`ignore_merges`): "abc" is in this
  /// vocabulary but no merge builds it, so GPT-2's and Qwen2's tokenizers spell it byte by byte.
  @Test func llama3TakesAWordInTheVocabularyWhole() throws {
    func tokenizer(_ pre: String) throws -> BPETokenizer {
      var g = TinyVocabulary.gguf()
      g["tokenizer.ggml.tokens"] = .strings(TinyVocabulary.tokens + ["abc"])
      g["tokenizer.ggml.token_type"] = .int32s((TinyVocabulary.tokens + ["abc"]).indices.map { $0 < TinyVocabulary.specials.count ? 3 : 1 })
      g["tokenizer.ggml.pre"] = .string(pre)
      return try BPETokenizer(gguf: g.file())
    }
    let whole = TinyVocabulary.tokens.count
    #expect(try tokenizer("llama-bpe").encode("abc") == [whole])
    let bytes = [TinyVocabulary.id("a"), TinyVocabulary.id("b"), TinyVocabulary.id("c")]
    #expect(try tokenizer("qwen2").encode("abc") == bytes)
    #expect(try tokenizer("smollm").encode("abc") == bytes)
  }

  /// Hand-checked splits that tell the families apart from GPT-2's regex.
  @Test func handCheckedSplits() {
    #expect(PreTokenizer.llama3.words(of: "I'M (hello) 12345 ok!\n\n  x") == ["I", "'M", " (", "hello", ")", " ", "123", "45", " ok", "!\n\n", " ", " x"])
    #expect(PreTokenizer.qwen2.words(of: "a 123\tb") == ["a", " ", "1", "2", "3", "\tb"])
    #expect(PreTokenizer.gpt2.words(of: "I'M (hello) 123") == ["I", "'", "M", " (", "hello", ")", " 123"])
    #expect(PreTokenizer.llama3.words(of: "x \n\t y") == ["x", " \n", "\t", " y"])
  }
}
