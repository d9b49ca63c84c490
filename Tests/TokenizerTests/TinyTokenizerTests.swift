import GGUF
import Testing
import Tokenizer

/// BPE mechanics on a hand-made vocabulary (no model needed): merge order, the GPT-2 split,
/// the digit variant, added tokens and decoding.
struct TinyTokenizerTests {
  let tok: BPETokenizer

  init() throws {
    tok = try BPETokenizer(gguf: TinyVocabulary.gguf().file())
  }

  /// Ids of a list of vocabulary spellings.
  func ids(_ tokens: [String]) -> [Int] { tokens.map(TinyVocabulary.id) }

  @Test func metadata() {
    #expect(tok.vocabularySize == TinyVocabulary.tokens.count)
    #expect(tok.bosID == 1 && tok.eosID == 2 && tok.padID == 2 && tok.unknownID == nil)
    #expect(!tok.addsBOS)
    #expect(tok.preTokenizer == .gpt2)  // `smollm`, read the way transformers reads it
    #expect(tok.isSpecial(0) && tok.isSpecial(1) && tok.isSpecial(2) && !tok.isSpecial(3))
  }

  /// BOS starts a model input only where the file says add_bos_token (transformers' `encode`
  /// default), also in front of a BOS the text already spells (transformers does not deduplicate).
  @Test func encodeInputFollowsAddBOSToken() throws {
    #expect(tok.promptStart.isEmpty && tok.encodeInput("the") == ids(["t", "he"]))
    var g = TinyVocabulary.gguf()
    g["tokenizer.ggml.add_bos_token"] = .bool(true)
    let adding = try BPETokenizer(gguf: g.file())
    #expect(adding.promptStart == [1])
    #expect(adding.encodeInput("the") == [1] + ids(["t", "he"]))
    #expect(adding.encodeInput("") == [1])
    #expect(adding.encodeInput("<|im_start|>the") == [1, 1] + ids(["t", "he"]))
    #expect(adding.encodeInput("<|im_start|>", parseSpecial: false) == [1] + adding.encode("<|im_start|>", parseSpecial: false))
    g["tokenizer.ggml.bos_token_id"] = nil
    #expect(try BPETokenizer(gguf: g.file()).encodeInput("the") == ids(["t", "he"]))
  }

  @Test func mergesApplyLowestRankFirst() {
    #expect(tok.encode("the") == ids(["t", "he"]))
    #expect(tok.encode(" the") == ids(["Ġthe"]))
    #expect(tok.encode("aaa") == ids(["aaa"]))
    // Equal ranks merge leftmost first: aa|a|a -> aa|aa, and "aa aa" is no merge.
    #expect(tok.encode("aaaa") == ids(["aa", "aa"]))
    #expect(tok.encode("aaaaa") == ids(["aa", "aaa"]))  // aa|aa|a, then "aa a" on the right
    #expect(tok.encode("") == [])
  }

  @Test func longWordsMergeInOrder() {
    let word = String(repeating: "a", count: 3000)
    let ids = tok.encode(word)
    // Leftmost-first "a a" pairs the whole run, then "aa a" never applies (no lone "a" follows an "aa").
    #expect(ids == [Int](repeating: TinyVocabulary.id("aa"), count: 1500))
    #expect(tok.decode(ids) == word)
  }

  @Test func gpt2SplitKeepsSpacesAndContractions() {
    #expect(tok.encode("it's") == ids(["i", "t", "'s"]))   // "it" | "'s": the "t '" merge never applies
    #expect(tok.encode("IT'S") == ids(["I", "T", "'", "S"]))  // upper-case contractions are not special
    #expect(tok.encode("   the") == ids(["ĠĠ", "Ġthe"]))  // the last space joins the word
    #expect(tok.encode("x   ") == ids(["x", "ĠĠĠ"]))  // trailing whitespace stays together
    #expect(tok.encode("x \n y") == ids(["x", "Ġ", "Ċ", "Ġ", "y"]))
    #expect(tok.encode("a  12") == ids(["a", "Ġ", "Ġ", "12"]))
    #expect(tok.encode("x 1") == ids(["x", "Ġ1"]))
  }

  @Test func individualDigitsIsolateEveryDigit() throws {
    let llama = try BPETokenizer(gguf: TinyVocabulary.gguf().file(), preTokenizer: .gpt2IndividualDigits)
    #expect(llama.encode("a  12") == ids(["a", "ĠĠ", "1", "2"]))
    #expect(llama.encode("x 1") == ids(["x", "Ġ", "1"]))
    #expect(llama.encode(" the") == ids(["Ġthe"]))
  }

  @Test func specialTokensAreMatchedWhole() {
    let start = ids(["<|im_start|>"])[0]
    #expect(tok.encode("<|im_start|>the") == [start] + ids(["t", "he"]))
    #expect(tok.encode("a<|im_end|><|endoftext|>") == ids(["a", "<|im_end|>", "<|endoftext|>"]))
    #expect(tok.encode("<|im_start|") == ids(["<", "|", "i", "m", "_", "s", "t", "a", "r", "t", "|"]))
    let plain = tok.encode("<|im_end|>", parseSpecial: false)
    #expect(plain == ids(["<", "|", "i", "m", "_", "e", "n", "d", "|", ">"]))
    #expect(tok.decode(plain) == "<|im_end|>")
  }

  @Test func userDefinedTokensAreAlwaysMatchedAndNeverSkipped() throws {
    var g = TinyVocabulary.gguf()
    var tokens = TinyVocabulary.tokens
    tokens.append("<think>")
    g["tokenizer.ggml.tokens"] = .strings(tokens)
    g["tokenizer.ggml.token_type"] = .int32s(tokens.indices.map { $0 < 3 ? 3 : ($0 == tokens.count - 1 ? 4 : 1) })
    let t = try BPETokenizer(gguf: g.file())
    let think = tokens.count - 1
    #expect(t.encode("a<think>b", parseSpecial: false) == [TinyVocabulary.id("a"), think, TinyVocabulary.id("b")])
    #expect(!t.isSpecial(think))
    #expect(t.decode([think, 2], skipSpecial: true) == "<think>")
  }

  @Test func bytesMissingFromTheVocabularyAreDropped() throws {
    var g = TinyVocabulary.gguf()
    var tokens = TinyVocabulary.tokens
    tokens[3 + 0x04] = "<byte-4-removed>"
    g["tokenizer.ggml.tokens"] = .strings(tokens)
    let t = try BPETokenizer(gguf: g.file())
    #expect(t.encode("a\u{04}b") == ids(["a", "b"]))
    #expect(t.encode("\u{04}") == [])
  }

  @Test func tokensOutsideTheByteAlphabetDecodeToTheirUTF8() throws {
    var g = TinyVocabulary.gguf()
    var tokens = TinyVocabulary.tokens
    tokens.append("日本")
    g["tokenizer.ggml.tokens"] = .strings(tokens)
    g["tokenizer.ggml.token_type"] = .int32s(tokens.indices.map { $0 < 3 ? 3 : 1 })
    let t = try BPETokenizer(gguf: g.file())
    #expect(t.token(tokens.count - 1) == "日本")
    #expect(t.decode([tokens.count - 1]) == "日本")
  }

  @Test func decodeRepairsInvalidUTF8AndIgnoresUnknownIds() {
    let byte = { (b: UInt8) in TinyVocabulary.id(String(TinyVocabulary.byteScalar(b))) }
    #expect(tok.decode([byte(0xE6), byte(0x97), byte(0xA5)]) == "日")
    #expect(tok.decode([byte(0xE6), byte(0x97)]) == "\u{FFFD}")
    #expect(tok.decode([byte(0xFF), byte(0x41)]) == "\u{FFFD}A")
    #expect(tok.decode([-1, 1 << 40, byte(0x41)]) == "A")
    #expect(tok.decode([1, byte(0x41), 2], skipSpecial: true) == "A")
    #expect(tok.decode([1, byte(0x41), 2]) == "<|im_start|>A<|im_end|>")
  }

  @Test func encodeDecodeRoundTrip() {
    for text in ["Hello, world!", "  spaced\tout\n\n", "naïve café 日本語 😀👍🏽", "it's 12:30 -- ok?", ""] {
      #expect(tok.decode(tok.encode(text)).unicodeScalars.elementsEqual(text.unicodeScalars), "\(text)")
    }
  }

  @Test func sharedAcrossThreads() async {
    let text = "the aaaa is the thing 123 it's"
    let expected = tok.encode(text)
    let tok = self.tok
    await withTaskGroup(of: Bool.self) { group in
      for _ in 0..<8 { group.addTask { (0..<50).allSatisfy { _ in tok.encode(text) == expected } } }
      for await ok in group { #expect(ok) }
    }
  }
}
