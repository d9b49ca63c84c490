import GGUF
import Testing
import Tokenizer

/// Malformed tokenizer metadata is rejected with the specific `TokenizerError` (built on
/// in-memory GGUF images, no model needed).
struct MetadataErrorTests {
  let tokensKey = "tokenizer.ggml.tokens"
  let mergesKey = "tokenizer.ggml.merges"
  let typeKey = "tokenizer.ggml.token_type"
  let eosKey = "tokenizer.ggml.eos_token_id"

  /// Builds a tokenizer from the tiny vocabulary after `edit`.
  func build(_ edit: (inout TestGGUF) -> Void) throws -> BPETokenizer {
    var g = TinyVocabulary.gguf()
    edit(&g)
    return try BPETokenizer(gguf: g.file())
  }

  @Test func validMetadataBuilds() throws {
    _ = try build { _ in }
  }

  @Test func missingTokens() {
    #expect(throws: TokenizerError.missingKey(tokensKey)) { try build { $0[tokensKey] = nil } }
  }

  @Test func missingMergesModelAndEOS() {
    #expect(throws: TokenizerError.missingKey(mergesKey)) { try build { $0[mergesKey] = nil } }
    #expect(throws: TokenizerError.missingKey("tokenizer.ggml.model")) { try build { $0["tokenizer.ggml.model"] = nil } }
    #expect(throws: TokenizerError.missingKey(eosKey)) { try build { $0[eosKey] = nil } }
  }

  @Test func mergeWithUnknownToken() {
    let count = TinyVocabulary.merges.count
    #expect(throws: TokenizerError.unknownMergeToken(key: mergesKey, index: count, token: "zz")) {
      try build { $0[mergesKey] = .strings(TinyVocabulary.merges + ["zz a"]) }
    }
    #expect(throws: TokenizerError.unknownMergeToken(key: mergesKey, index: count, token: "qq")) {
      try build { $0[mergesKey] = .strings(TinyVocabulary.merges + ["a qq"]) }
    }
    // Both parts exist but their concatenation is not a token.
    #expect(throws: TokenizerError.unknownMergeToken(key: mergesKey, index: count, token: "xy")) {
      try build { $0[mergesKey] = .strings(TinyVocabulary.merges + ["x y"]) }
    }
  }

  @Test func malformedMerges() {
    let count = TinyVocabulary.merges.count
    for bad in ["ab", "a  b", "a b c", " a", ""] {
      #expect(throws: TokenizerError.malformedMerge(key: mergesKey, index: count, merge: bad)) {
        try build { $0[mergesKey] = .strings(TinyVocabulary.merges + [bad]) }
      }
    }
  }

  @Test func wrongValueTypes() {
    #expect(throws: TokenizerError.wrongValueType(key: tokensKey, expected: "array of strings", found: "uint32")) {
      try build { $0[tokensKey] = .uint32(5) }
    }
    #expect(throws: TokenizerError.wrongValueType(key: tokensKey, expected: "array of strings", found: "array of int32")) {
      try build { $0[tokensKey] = .int32s([1, 2, 3]) }
    }
    #expect(throws: TokenizerError.wrongValueType(key: typeKey, expected: "array of integers", found: "array of string")) {
      try build { $0[typeKey] = .strings(TinyVocabulary.tokens) }
    }
    #expect(throws: TokenizerError.wrongValueType(key: eosKey, expected: "integer", found: "string")) {
      try build { $0[eosKey] = .string("2") }
    }
    #expect(throws: TokenizerError.wrongValueType(key: "tokenizer.ggml.add_bos_token", expected: "bool", found: "uint8")) {
      try build { $0["tokenizer.ggml.add_bos_token"] = .uint8(1) }
    }
    #expect(throws: TokenizerError.wrongValueType(key: "tokenizer.ggml.pre", expected: "string", found: "uint32")) {
      try build { $0["tokenizer.ggml.pre"] = .uint32(1) }
    }
    #expect(throws: TokenizerError.wrongValueType(key: mergesKey, expected: "array of strings", found: "string")) {
      try build { $0[mergesKey] = .string("a b") }
    }
  }

  @Test func inconsistentArraysAndIds() {
    let size = TinyVocabulary.tokens.count
    #expect(throws: TokenizerError.emptyVocabulary(key: tokensKey)) { try build { $0[tokensKey] = .strings([]) } }
    #expect(throws: TokenizerError.countMismatch(key: typeKey, count: 3, expected: size)) {
      try build { $0[typeKey] = .int32s([3, 3, 3]) }
    }
    #expect(throws: TokenizerError.tokenIDOutOfRange(key: eosKey, id: size, vocabularySize: size)) {
      try build { $0[eosKey] = .uint32(UInt32(size)) }
    }
    #expect(throws: TokenizerError.tokenIDOutOfRange(key: "tokenizer.ggml.bos_token_id", id: -1, vocabularySize: size)) {
      try build { $0["tokenizer.ggml.bos_token_id"] = .int32(-1) }
    }
  }

  @Test func unsupportedTokenizers() throws {
    #expect(throws: TokenizerError.unsupportedModel(key: "tokenizer.ggml.model", found: "llama", expected: "byte-level BPE ('gpt2')")) {
      try build { $0["tokenizer.ggml.model"] = .string("llama") }
    }
    // A split transformers knows and this project does not write is refused, not run as GPT-2's.
    #expect(throws: TokenizerError.unsupportedPreTokenizer(key: "tokenizer.ggml.pre", found: "gpt-4o")) {
      try build { $0["tokenizer.ggml.pre"] = .string("gpt-4o") }
    }
    // llama.cpp's names of the Llama 3 and Qwen2 splits select them.
    #expect(try build { $0["tokenizer.ggml.pre"] = .string("llama-bpe") }.preTokenizer == .llama3)
    #expect(try build { $0["tokenizer.ggml.pre"] = .string("qwen2") }.preTokenizer == .qwen2)
  }

  @Test func optionalKeysHaveTransformersDefaults() throws {
    let t = try build {
      $0["tokenizer.ggml.pre"] = nil
      $0[typeKey] = nil
      $0["tokenizer.ggml.add_bos_token"] = nil
      $0["tokenizer.ggml.bos_token_id"] = nil
      $0["tokenizer.ggml.padding_token_id"] = nil
    }
    #expect(t.preTokenizer == .gpt2 && !t.addsBOS && t.bosID == nil && t.padID == nil)
    #expect(!t.isSpecial(0))  // without token types nothing is a control token
    #expect(t.encode("<|im_end|>").count == 10)
  }

  @Test func errorsDescribeKeyAndExpectation() {
    let e = TokenizerError.unknownMergeToken(key: mergesKey, index: 7, token: "zz")
    #expect(e.description.contains(mergesKey) && e.description.contains("#7") && e.description.contains("zz"))
    let w = TokenizerError.wrongValueType(key: eosKey, expected: "integer", found: "string")
    #expect(w.description.contains(eosKey) && w.description.contains("integer") && w.description.contains("string"))
  }
}
