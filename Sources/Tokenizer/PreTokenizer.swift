/// Splits text into the words that byte-level BPE encodes one by one, written by hand over
/// Unicode scalars (no regex engine).
///
/// `.gpt2` is the GPT-2 split regex as the `tokenizers` library runs it (Oniguruma, first
/// alternative that matches wins):
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// with `\p{L}` = general categories Lu Ll Lt Lm Lo, `\p{N}` = Nd Nl No and `\s` = the Unicode
/// White_Space property (Oniguruma's definition). Only U+0020 can be the optional leading space,
/// and the contractions are lower-case only ("'S" is split as "'" + "S").
///
/// `.gpt2IndividualDigits` first isolates every `\p{N}` scalar and then applies the GPT-2 split to
/// the pieces in between. That is llama.cpp's `smollm` pre-tokenizer and the model repo's
/// tokenizer.json (`Digits(individual_digits) + ByteLevel`). transformers, loading a GGUF, does not
/// do this: `smollm` is missing from its table of pre-tokenizer splits
/// (`integrations/gguf/gguf_tokenizer_mapping.py`, transformers 5.24), so it keeps GPT-2's regex.
/// The ids differ only where whitespace precedes a digit: "a  1" is [a, Ġ, Ġ, 1] with `.gpt2`
/// and [a, ĠĠ, 1] with digits isolated (the SmolLM2 vocabulary has no merges of ASCII digits).
public enum PreTokenizer: String, Sendable, Codable, CaseIterable {
  case gpt2
  case gpt2IndividualDigits

  /// `tokenizer.ggml.pre` values for which transformers replaces the GPT-2 regex by another one
  /// (Llama 3, Qwen2, GPT-4o, Tekken, ...). Encoding them with the GPT-2 split would give wrong ids.
  static let unsupportedNames: Set<String> = [
    "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
    "jina-v5-nano", "dbrx", "smaug-bpe", "tekken", "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2",
    "megrez", "qwen35", "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2",
  ]

  /// The pre-tokenizer transformers uses for a GGUF `tokenizer.ggml.pre` value: GPT-2's for
  /// `gpt2`, `default`, `smollm` (see the type's documentation), absent and other names.
  public static func transformersEquivalent(ofGGUFName name: String?) throws(TokenizerError) -> PreTokenizer {
    if let name, unsupportedNames.contains(name) {
      throw .unsupportedPreTokenizer(key: TokenizerMetadata.preKey, found: name)
    }
    return .gpt2
  }

  // Scalar classes used by the split. `space` is U+0020, which is also whitespace.
  static let other: UInt8 = 0, letter: UInt8 = 1, number: UInt8 = 2, whitespace: UInt8 = 3, space: UInt8 = 4

  private static let asciiClasses: [UInt8] = (0..<128).map { v in
    switch v {
    case 0x20: return space
    case 0x09...0x0D: return whitespace
    case 0x30...0x39: return number
    case 0x41...0x5A, 0x61...0x7A: return letter
    default: return other
    }
  }

  /// The class of one scalar (ASCII by table, the rest by Unicode properties).
  @inline(__always)
  static func classify(_ value: UInt32) -> UInt8 {
    if value < 128 { return asciiClasses[Int(value)] }
    guard let scalar = Unicode.Scalar(value) else { return other }
    let properties = scalar.properties
    if properties.isWhitespace { return whitespace }
    switch properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return letter
    case .decimalNumber, .letterNumber, .otherNumber: return number
    default: return other
    }
  }

  /// Appends the words of `range` (indices into `scalars`/`classes`) to `words` as index ranges.
  func split(scalars: UnsafeBufferPointer<UInt32>, classes: UnsafeBufferPointer<UInt8>, range: Range<Int>,
             into words: inout [Range<Int>]) {
    switch self {
    case .gpt2:
      Self.splitGPT2(scalars: scalars, classes: classes, range: range, into: &words)
    case .gpt2IndividualDigits:
      var start = range.lowerBound
      for i in range where classes[i] == Self.number {
        if start < i { Self.splitGPT2(scalars: scalars, classes: classes, range: start..<i, into: &words) }
        words.append(i..<(i + 1))
        start = i + 1
      }
      if start < range.upperBound {
        Self.splitGPT2(scalars: scalars, classes: classes, range: start..<range.upperBound, into: &words)
      }
    }
  }

  /// The GPT-2 regex over `range`; the end of the range is the end of the string for `(?!\S)`.
  static func splitGPT2(scalars: UnsafeBufferPointer<UInt32>, classes: UnsafeBufferPointer<UInt8>, range: Range<Int>,
                        into words: inout [Range<Int>]) {
    let end = range.upperBound
    var i = range.lowerBound
    while i < end {
      let next = match(at: i, end: end, scalars: scalars, classes: classes)
      words.append(i..<next)
      i = next
    }
  }

  /// End of the regex match starting at `i` (always > i: the alternatives cover every scalar).
  @inline(__always)
  private static func match(at i: Int, end: Int, scalars: UnsafeBufferPointer<UInt32>,
                            classes: UnsafeBufferPointer<UInt8>) -> Int {
    // 's 't 're 've 'm 'll 'd
    if scalars[i] == 0x27, i + 1 < end {
      switch scalars[i + 1] {
      case 0x73, 0x74, 0x6D, 0x64: return i + 2  // s t m d
      case 0x72, 0x76:  // re ve
        if i + 2 < end && scalars[i + 2] == 0x65 { return i + 3 }
      case 0x6C:  // ll
        if i + 2 < end && scalars[i + 2] == 0x6C { return i + 3 }
      default: break
      }
    }
    let cls = classes[i]
    // ` ?X+` for X in letters, numbers, other: an optional U+0020 then a run of one class.
    let first = (cls == space && i + 1 < end) ? i + 1 : i
    let runClass = classes[first]
    if runClass == letter || runClass == number || runClass == other {
      var j = first + 1
      while j < end && classes[j] == runClass { j += 1 }
      return j
    }
    // Whitespace: `\s+(?!\S)` keeps the last whitespace for the next word when a non-space
    // follows; a single whitespace before a non-space falls through to `\s+`.
    var j = i + 1
    while j < end && classes[j] >= whitespace { j += 1 }
    if j == end || j - i == 1 { return j }
    return j - 1
  }
}
