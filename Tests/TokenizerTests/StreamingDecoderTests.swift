import GGUF
import Testing
import Tokenizer

/// Streaming decoding holds back split UTF-8 characters and always adds up to `decode`.
struct StreamingDecoderTests {
  let tok: BPETokenizer

  init() throws {
    tok = try BPETokenizer(gguf: TinyVocabulary.gguf().file())
  }

  /// Id of the one-byte token of `b` in the tiny vocabulary.
  func byteID(_ b: UInt8) -> Int { TinyVocabulary.id(String(TinyVocabulary.byteScalar(b))) }

  /// Pushes every id; returns the pieces (the flush last).
  func stream(_ ids: [Int], tokenizer: BPETokenizer, skipSpecial: Bool = false) -> [String] {
    var decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecial: skipSpecial)
    return ids.map { decoder.push($0) } + [decoder.flush()]
  }

  @Test func fourByteEmojiIsHeldUntilComplete() {
    let ids = Array("a😀b".utf8).map(byteID)
    #expect(stream(ids, tokenizer: tok) == ["a", "", "", "", "😀", "b", ""])
  }

  @Test func cjkAndAccentsSplitAcrossTokens() {
    let ids = Array("日本é".utf8).map(byteID)
    #expect(stream(ids, tokenizer: tok) == ["", "", "日", "", "", "本", "", "é", ""])
  }

  @Test func unfinishedCharacterIsRepairedByFlush() {
    let ids = [0xF0, 0x9F, 0x98].map(byteID)
    #expect(stream(ids, tokenizer: tok) == ["", "", "", "\u{FFFD}"])
  }

  @Test func invalidBytesAreNotHeldBack() {
    // 0xFF can never start a character; E0 80 can never complete (overlong).
    #expect(stream([0xFF, 0x41].map(byteID), tokenizer: tok) == ["\u{FFFD}", "A", ""])
    #expect(stream([0xE0, 0x80, 0x41].map(byteID), tokenizer: tok).joined() == tok.decode([0xE0, 0x80, 0x41].map(byteID)))
  }

  @Test func skipSpecialDropsControlTokens() {
    let ids = [1] + Array("hi".utf8).map(byteID) + [2]
    #expect(stream(ids, tokenizer: tok, skipSpecial: true).joined() == "hi")
    #expect(stream(ids, tokenizer: tok).joined() == "<|im_start|>hi<|im_end|>")
  }

  /// Random byte streams (valid and invalid UTF-8): the pieces always add up to `decode`.
  @Test func randomByteStreamsAddUpToDecode() {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> UInt64 {
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return state >> 33
    }
    let interesting: [UInt8] = [0x41, 0x20, 0xC3, 0xA9, 0xE6, 0x97, 0xA5, 0xF0, 0x9F, 0x98, 0x80, 0xED, 0xA0, 0xF4, 0x90, 0xFF, 0xC0, 0x80, 0xBF]
    for _ in 0..<500 {
      let count = Int(next() % 12)
      let ids = (0..<count).map { _ in byteID(interesting[Int(next() % UInt64(interesting.count))]) }
      let pieces = stream(ids, tokenizer: tok)
      #expect(pieces.joined().unicodeScalars.elementsEqual(tok.decode(ids).unicodeScalars), "\(ids)")
    }
  }

  /// Every fixture string of the real model streams to exactly its whole decoding, and no piece
  /// of a string without U+FFFD contains one (multi-byte characters split across SmolLM2 tokens,
  /// such as emoji and CJK, are held back until complete).
  @Test(.enabled(if: Reference.modelAvailable,
                 "needs $P2P_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf (default ~/.cache/p2p): run scripts/setup.sh"))
  func realModelStreamsLikeWholeDecoding() throws {
    let real = try Reference.loadTokenizer()
    let fixture = try Reference.fixture()
    var splitCharacters = 0
    for c in fixture.cases {
      let pieces = stream(c.ids, tokenizer: real)
      let whole = real.decode(c.ids)
      #expect(pieces.joined().unicodeScalars.elementsEqual(whole.unicodeScalars), "\(c.text.debugDescription)")
      if !whole.unicodeScalars.contains("\u{FFFD}") {
        #expect(!pieces.contains { $0.unicodeScalars.contains("\u{FFFD}") }, "\(c.text.debugDescription)")
      }
      splitCharacters += pieces.dropLast().filter(\.isEmpty).count
    }
    #expect(splitCharacters > 20)  // the fixture really has characters split across tokens
    let emoji = real.encode("👨‍👩‍👧")
    #expect(emoji.count > 3)
    #expect(stream(emoji, tokenizer: real).joined() == "👨‍👩‍👧")
  }
}
