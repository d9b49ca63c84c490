import Foundation
import GGUF

/// Byte-level BPE tokenizer (GPT-2 style) built from GGUF metadata, matching the transformers
/// tokenizer that `AutoTokenizer.from_pretrained(dir, gguf_file:)` builds from the same file
/// (transformers 5.24, tokenizers 0.23): same ids for every input and the same decoded text.
///
/// How transformers reads the file, and so how this type does:
/// - the vocabulary is `tokenizer.ggml.tokens`; an entry with a character outside GPT-2's byte
///   alphabet is re-spelled from its UTF-8 bytes (a later duplicate spelling wins the lookup);
/// - control tokens (`token_type` 3, e.g. `<|im_start|>`, `<|im_end|>`, `<|endoftext|>`) whose
///   spelling is inside the byte alphabet are special: matched whole in the text (leftmost-longest)
///   when `parseSpecial` is true, skipped by `decode(skipSpecial: true)`; user-defined tokens
///   (type 4) are always matched whole and never skipped;
/// - the pre-tokenizer is GPT-2's regex, also for `tokenizer.ggml.pre = smollm` (see
///   `PreTokenizer` for the difference from llama.cpp, which isolates digits first); Llama 3's
///   split for `llama-bpe` and Qwen2's (after NFC) for `qwen2`, matched against `tokenizers` on
///   small BPEs trained under those pipelines (Tests/TokenizerTests/Fixtures/llama3, qwen2);
/// - decoding maps the byte alphabet back to bytes and repairs invalid UTF-8 with U+FFFD.
///
/// `encode` never adds BOS/EOS; a caller that needs BOS checks `addsBOS` and prepends `bosID`.
/// The type is immutable apart from an internal, lock-protected word cache, so one instance can
/// be shared across threads.
public final class BPETokenizer: Sendable {
  public let metadata: TokenizerMetadata
  public let preTokenizer: PreTokenizer
  private let model: BPEModel
  private let matcher: AddedTokenMatcher
  /// The bytes each id stands for, and the reverse lookup.
  private let vocabulary: VocabularyIndex
  private let specialIDs: Set<Int>

  /// Builds the tokenizer from the tokenizer keys of `gguf`.
  /// - Parameter preTokenizer: nil (default) picks what transformers picks for
  ///   `tokenizer.ggml.pre`; `.gpt2IndividualDigits` reproduces llama.cpp's `smollm` instead.
  public convenience init(gguf: GGUFFile, preTokenizer: PreTokenizer? = nil) throws(TokenizerError) {
    try self.init(metadata: TokenizerMetadata(gguf: gguf), preTokenizer: preTokenizer)
  }

  /// Builds the tokenizer from already-read metadata.
  public init(metadata: TokenizerMetadata, preTokenizer: PreTokenizer? = nil) throws(TokenizerError) {
    self.metadata = metadata
    if let preTokenizer {
      self.preTokenizer = preTokenizer
    } else {
      self.preTokenizer = try PreTokenizer.transformersEquivalent(ofGGUFName: metadata.preTokenizerName)
    }
    let tokens = metadata.tokens
    var bytes: [UInt8] = []
    var offsets: [Int] = [0]
    offsets.reserveCapacity(tokens.count + 1)
    var inAlphabet = [Bool](repeating: true, count: tokens.count)
    for (id, token) in tokens.enumerated() {
      if !ByteLevel.appendBytes(ofToken: token, to: &bytes) {
        // transformers re-spells such entries from their UTF-8; decoding one gives that UTF-8.
        inAlphabet[id] = false
        bytes.append(contentsOf: token.utf8)
      }
      offsets.append(bytes.count)
    }
    let vocabulary = VocabularyIndex(bytes: bytes, offsets: offsets)
    self.vocabulary = vocabulary
    // Llama 3's tokenizer takes a word that is a vocabulary entry whole (`ignore_merges`, as
    // its tokenizer.json and llama.cpp's `llama-bpe` do).
    model = try BPEModel(vocabulary: vocabulary, merges: metadata.merges, mergesKey: TokenizerMetadata.mergesKey,
                         ignoreMerges: self.preTokenizer == .llama3)

    var entries: [AddedTokenMatcher.Entry] = []
    var special = Set<Int>()
    for (index, (token, type)) in zip(tokens, metadata.tokenTypes).enumerated() where !token.isEmpty && inAlphabet[index] {
      // An added token takes the id its spelling has in the vocabulary (the last duplicate).
      let id = vocabulary.id(of: Array(vocabulary.tokenBytes(index))) ?? index
      if type == TokenizerMetadata.TokenType.control.rawValue {
        special.insert(id)
        entries.append(.init(scalars: token.unicodeScalars.map(\.value), id: id, special: true))
      } else if type == TokenizerMetadata.TokenType.userDefined.rawValue {
        entries.append(.init(scalars: token.unicodeScalars.map(\.value), id: id, special: false))
      }
    }
    matcher = AddedTokenMatcher(entries)
    specialIDs = special
  }

  public var vocabularySize: Int { metadata.tokens.count }
  public var eosID: Int { metadata.eosID }
  public var bosID: Int? { metadata.bosID }
  public var padID: Int? { metadata.padID }
  public var unknownID: Int? { metadata.unknownID }
  public var addsBOS: Bool { metadata.addsBOS }

  /// The vocabulary entry of `id` as the file spells it, nil when out of range.
  public func token(_ id: Int) -> String? {
    metadata.tokens.indices.contains(id) ? metadata.tokens[id] : nil
  }

  /// True for control tokens (such as `<|im_end|>`), the ids `decode(skipSpecial: true)` drops.
  public func isSpecial(_ id: Int) -> Bool { specialIDs.contains(id) }

  /// The tokens a model input starts with: BOS when the tokenizer adds one
  /// (`tokenizer.ggml.add_bos_token`, as transformers' `encode(text)` and llama.cpp do for
  /// Llama 3), else none.
  public var promptStart: [Int] { addsBOS ? bosID.map { [$0] } ?? [] : [] }

  /// The ids of `text` as a model input: `promptStart`, then `encode(text, parseSpecial:)`
  /// (a BOS the text spells is kept too, as transformers keeps it).
  public func encodeInput(_ text: String, parseSpecial: Bool = true) -> [Int] {
    promptStart + encode(text, parseSpecial: parseSpecial)
  }

  /// The ids of the control tokens, ascending.
  public var controlTokenIDs: [Int] { specialIDs.sorted() }

  /// Token ids of `text`. With `parseSpecial` (default) the spellings of control tokens in the
  /// text become their ids; without it they are encoded as ordinary text.
  public func encode(_ text: String, parseSpecial: Bool = true) -> [Int] {
    let utf8 = Array(text.utf8)
    // Scalar values and the byte offset where each starts (plus one past the end).
    var scalars: [UInt32] = []
    var starts: [Int] = []
    scalars.reserveCapacity(utf8.count)
    starts.reserveCapacity(utf8.count + 1)
    decodeScalars(utf8, scalars: &scalars, starts: &starts)
    let classes = scalars.map(PreTokenizer.classify)
    var ids: [Int] = []
    ids.reserveCapacity(utf8.count / 3 + 4)
    var words: [Range<Int>] = []
    scalars.withUnsafeBufferPointer { scalarBuffer in
      classes.withUnsafeBufferPointer { classBuffer in
        utf8.withUnsafeBufferPointer { bytes in
          func encodeText(_ range: Range<Int>) {
            guard !range.isEmpty else { return }
            // NFC (Qwen2) can change only text with a scalar at or above U+0300.
            if preTokenizer.normalizesNFC, range.contains(where: { scalarBuffer[$0] >= 0x300 }) {
              let piece = String(decoding: UnsafeBufferPointer(rebasing: bytes[starts[range.lowerBound]..<starts[range.upperBound]]), as: UTF8.self)
              encodeNormalized(piece.precomposedStringWithCanonicalMapping, into: &ids)
              return
            }
            splitAndEncode(scalarBuffer, classBuffer, bytes, starts: starts, range: range, words: &words, into: &ids)
          }
          var segmentStart = 0
          var i = 0
          let n = scalarBuffer.count
          while i < n {
            if !matcher.isEmpty, let entry = matcher.match(at: i, in: scalarBuffer, includeSpecial: parseSpecial) {
              encodeText(segmentStart..<i)
              ids.append(entry.id)
              i += entry.scalars.count
              segmentStart = i
            } else {
              i += 1
            }
          }
          encodeText(segmentStart..<n)
        }
      }
    }
    return ids
  }

  /// Splits and encodes text that holds no added token and is already normalized.
  private func encodeNormalized(_ text: String, into ids: inout [Int]) {
    let utf8 = Array(text.utf8)
    var scalars: [UInt32] = [], starts: [Int] = []
    decodeScalars(utf8, scalars: &scalars, starts: &starts)
    let classes = scalars.map(PreTokenizer.classify)
    var words: [Range<Int>] = []
    scalars.withUnsafeBufferPointer { s in
      classes.withUnsafeBufferPointer { c in
        utf8.withUnsafeBufferPointer { bytes in
          splitAndEncode(s, c, bytes, starts: starts, range: 0..<s.count, words: &words, into: &ids)
        }
      }
    }
  }

  /// Splits `range` of the scalars into words with the pre-tokenizer and appends each word's BPE
  /// ids (`starts[i]` is the byte offset of scalar i; `words` is scratch space).
  private func splitAndEncode(_ scalars: UnsafeBufferPointer<UInt32>, _ classes: UnsafeBufferPointer<UInt8>,
                              _ bytes: UnsafeBufferPointer<UInt8>, starts: [Int], range: Range<Int>,
                              words: inout [Range<Int>], into ids: inout [Int]) {
    words.removeAll(keepingCapacity: true)
    preTokenizer.split(scalars: scalars, classes: classes, range: range, into: &words)
    for word in words { model.encode(word: UnsafeBufferPointer(rebasing: bytes[starts[word.lowerBound]..<starts[word.upperBound]]), into: &ids) }
  }

  /// Text of `ids`: their bytes concatenated, invalid UTF-8 replaced by U+FFFD (maximal
  /// subparts, as Rust's `from_utf8_lossy`). Ids outside the vocabulary are ignored.
  public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(ids.count * 4)
    for id in ids { appendBytes(of: id, skipSpecial: skipSpecial, to: &bytes) }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Appends the bytes `id` stands for (nothing for unknown ids, or skipped special ids).
  func appendBytes(of id: Int, skipSpecial: Bool, to bytes: inout [UInt8]) {
    guard id >= 0 && id < vocabularySize else { return }
    if skipSpecial && specialIDs.contains(id) { return }
    bytes.append(contentsOf: vocabulary.tokenBytes(id))
  }

  /// Splits valid UTF-8 (a Swift string's) into scalar values and their start offsets.
  private func decodeScalars(_ utf8: [UInt8], scalars: inout [UInt32], starts: inout [Int]) {
    var i = 0
    let n = utf8.count
    while i < n {
      let lead = utf8[i]
      starts.append(i)
      if lead < 0x80 {
        scalars.append(UInt32(lead)); i += 1
      } else if lead < 0xE0, i + 1 < n {
        scalars.append(UInt32(lead & 0x1F) << 6 | UInt32(utf8[i + 1] & 0x3F)); i += 2
      } else if lead < 0xF0, i + 2 < n {
        scalars.append(UInt32(lead & 0x0F) << 12 | UInt32(utf8[i + 1] & 0x3F) << 6 | UInt32(utf8[i + 2] & 0x3F)); i += 3
      } else if i + 3 < n {
        scalars.append(UInt32(lead & 0x07) << 18 | UInt32(utf8[i + 1] & 0x3F) << 12
                       | UInt32(utf8[i + 2] & 0x3F) << 6 | UInt32(utf8[i + 3] & 0x3F)); i += 4
      } else {
        // Unreachable for a Swift string; keep the byte as its own unit rather than trap.
        scalars.append(0xFFFD); i += 1
      }
    }
    starts.append(n)
  }
}
