import GGUF

/// A tiny GGUF v3 byte builder for tests that must not depend on a real model: metadata only, no
/// tensors. Kept private to this test target on purpose (the library's writer is tested
/// elsewhere; these tests must fail only for tokenizer reasons).
struct TestGGUF {
  enum Value {
    case uint8(UInt8), uint32(UInt32), int32(Int32), bool(Bool), string(String)
    case strings([String]), int32s([Int32])
  }

  private(set) var entries: [(String, Value)] = []

  init() {}

  /// Sets `key` (replacing an earlier value), or removes it when `value` is nil.
  subscript(key: String) -> Value? {
    get { entries.first { $0.0 == key }?.1 }
    set {
      if let index = entries.firstIndex(where: { $0.0 == key }) {
        if let newValue { entries[index].1 = newValue } else { entries.remove(at: index) }
      } else if let newValue {
        entries.append((key, newValue))
      }
    }
  }

  var bytes: [UInt8] {
    var out: [UInt8] = []
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    func str(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
    u32(0x4655_4747)  // "GGUF"
    u32(3)
    u64(0)  // tensors
    u64(UInt64(entries.count))
    for (key, value) in entries {
      str(key)
      switch value {
      case let .uint8(v): u32(0); out.append(v)
      case let .uint32(v): u32(4); u32(v)
      case let .int32(v): u32(5); u32(UInt32(bitPattern: v))
      case let .bool(v): u32(7); out.append(v ? 1 : 0)
      case let .string(s): u32(8); str(s)
      case let .strings(a): u32(9); u32(8); u64(UInt64(a.count)); a.forEach(str)
      case let .int32s(a): u32(9); u32(5); u64(UInt64(a.count)); a.forEach { u32(UInt32(bitPattern: $0)) }
      }
    }
    return out
  }

  func file() throws -> GGUFFile { try GGUFFile(bytes: bytes) }
}

/// A small but complete byte-level BPE vocabulary: three control tokens, the 256 byte tokens
/// and a handful of merges, enough to exercise merge order, pre-tokenization and special tokens.
enum TinyVocabulary {
  static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
  /// Merges in rank order; every result is appended to the vocabulary.
  static let merges = [
    "Ġ t", "h e", "Ġt he", "a a", "l l", "Ġ Ġ", "ĠĠ Ġ", "aa a", "i s", "Ġ is", "1 2", "' s", "t '", "' S", "Ġ 1",
  ]

  static let byteTokens: [String] = (0..<256).map { String(byteScalar(UInt8($0))) }

  static let tokens: [String] = {
    var out = specials + byteTokens
    for merge in merges {
      let token = String(merge.filter { $0 != " " })
      if !out.contains(token) { out.append(token) }
    }
    return out
  }()

  private static let ids: [[Unicode.Scalar]: Int] = {
    var table: [[Unicode.Scalar]: Int] = [:]
    for (id, token) in tokens.enumerated() where table[Array(token.unicodeScalars)] == nil {
      table[Array(token.unicodeScalars)] = id
    }
    return table
  }()

  /// Id of a spelling (compared by scalars, not by Swift's canonical equivalence), -1 if absent.
  static func id(_ token: String) -> Int { ids[Array(token.unicodeScalars)] ?? -1 }

  /// GPT-2's byte alphabet, written out independently of the library.
  static func byteScalar(_ b: UInt8) -> Unicode.Scalar {
    func printable(_ b: UInt8) -> Bool { (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) }
    if printable(b) { return Unicode.Scalar(b) }
    let shift = (0..<Int(b)).filter { !printable(UInt8($0)) }.count
    return Unicode.Scalar(UInt32(256 + shift))!
  }

  /// A GGUF image of this vocabulary; tests edit it to break one thing at a time.
  static func gguf() -> TestGGUF {
    var g = TestGGUF()
    let tokens = tokens
    g["tokenizer.ggml.model"] = .string("gpt2")
    g["tokenizer.ggml.pre"] = .string("smollm")
    g["tokenizer.ggml.tokens"] = .strings(tokens)
    g["tokenizer.ggml.token_type"] = .int32s(tokens.indices.map { $0 < specials.count ? 3 : 1 })
    g["tokenizer.ggml.merges"] = .strings(merges)
    g["tokenizer.ggml.bos_token_id"] = .uint32(1)
    g["tokenizer.ggml.eos_token_id"] = .uint32(2)
    g["tokenizer.ggml.padding_token_id"] = .uint32(2)
    g["tokenizer.ggml.add_bos_token"] = .bool(false)
    g["tokenizer.chat_template"] = .string(
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        + "{{ '<|im_start|>system\nBe brief.<|im_end|>\n' }}{% endif %}"
        + "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    return g
  }
}
