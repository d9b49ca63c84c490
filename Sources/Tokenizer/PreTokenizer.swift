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
///
/// `.llama3` and `.qwen2` are the splits of the Llama 3 and Qwen2/2.5/3 tokenizers (their
/// tokenizer.json `Split` regex, `Isolated`), again by hand:
///
///     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
///
/// with `\p{N}` alone instead of `\p{N}{1,3}` for Qwen2 (digits one by one). Unlike GPT-2's, a
/// word may start with any one non-letter that is not a line break (" hello", "(hello",
/// "\thello"), contractions match in any case ("'S"), punctuation runs keep their trailing line
/// breaks and a whitespace run ending in line breaks is one word. Qwen2's tokenizer also applies
/// NFC to the text between added tokens (`normalizesNFC`).
public enum PreTokenizer: String, Sendable, Codable, CaseIterable {
  case gpt2
  case gpt2IndividualDigits
  case llama3
  case qwen2

  /// Whether the text between added tokens is put in Unicode NFC before the split (Qwen2).
  public var normalizesNFC: Bool { self == .qwen2 }

  /// GGUF `tokenizer.ggml.pre` values with the Llama 3 split (llama.cpp's names).
  static let llama3Names: Set<String> = ["llama3", "llama-v3", "llama-bpe"]
  /// GGUF `tokenizer.ggml.pre` values with the Qwen2 split.
  static let qwen2Names: Set<String> = ["qwen2", "deepseek-r1-qwen"]

  /// `tokenizer.ggml.pre` values for which transformers replaces the GPT-2 regex by another one
  /// that is not written here (Falcon 3, GPT-4o, Tekken, ...). Encoding them with the GPT-2 split
  /// would give wrong ids.
  static let unsupportedNames: Set<String> = [
    "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
    "jina-v5-nano", "dbrx", "smaug-bpe", "tekken", "kormo", "f2llmv2",
    "megrez", "qwen35", "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2",
  ]

  /// The pre-tokenizer for a GGUF `tokenizer.ggml.pre` value: the Llama 3 and Qwen2 splits for
  /// their names, GPT-2's for `gpt2`, `default`, `smollm` (see the type's documentation), absent
  /// and other names; an error for the names whose split is not written here.
  public static func transformersEquivalent(ofGGUFName name: String?) throws(TokenizerError) -> PreTokenizer {
    guard let name else { return .gpt2 }
    if llama3Names.contains(name) { return .llama3 }
    if qwen2Names.contains(name) { return .qwen2 }
    if unsupportedNames.contains(name) { throw .unsupportedPreTokenizer(key: TokenizerMetadata.preKey, found: name) }
    return .gpt2
  }

  // Scalar classes used by the split. `space` is U+0020 and `newline` U+000A or U+000D, both
  // also whitespace (every class >= `whitespace` is whitespace).
  static let other: UInt8 = 0, letter: UInt8 = 1, number: UInt8 = 2, whitespace: UInt8 = 3, space: UInt8 = 4, newline: UInt8 = 5

  private static let asciiClasses: [UInt8] = (0..<128).map { v in
    switch v {
    case 0x20: return space
    case 0x0A, 0x0D: return newline
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

  /// The words `text` splits into (no normalization, no added tokens), e.g. for `p2p tokenize`
  /// and for checking the split against a reference.
  public func words(of text: String) -> [String] {
    let scalars = text.unicodeScalars.map(\.value)
    let classes = scalars.map(Self.classify)
    var ranges: [Range<Int>] = []
    scalars.withUnsafeBufferPointer { s in
      classes.withUnsafeBufferPointer { c in split(scalars: s, classes: c, range: 0..<s.count, into: &ranges) }
    }
    return ranges.map { r in String(String.UnicodeScalarView(scalars[r].compactMap(Unicode.Scalar.init))) }
  }

  /// Appends the words of `range` (indices into `scalars`/`classes`) to `words` as index ranges.
  func split(scalars: UnsafeBufferPointer<UInt32>, classes: UnsafeBufferPointer<UInt8>, range: Range<Int>,
             into words: inout [Range<Int>]) {
    switch self {
    case .gpt2:
      Self.splitGPT2(scalars: scalars, classes: classes, range: range, into: &words)
    case .llama3, .qwen2:
      let maxDigits = self == .llama3 ? 3 : 1
      var i = range.lowerBound
      while i < range.upperBound {
        let next = Self.matchGPT4Style(at: i, end: range.upperBound, maxDigits: maxDigits, scalars: scalars, classes: classes)
        words.append(i..<next)
        i = next
      }
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

  /// End of the Llama 3 / Qwen2 regex match starting at `i` (always > i). The alternatives in
  /// order; the first that matches wins, each as long as its greedy parts allow.
  @inline(__always)
  private static func matchGPT4Style(at i: Int, end: Int, maxDigits: Int, scalars: UnsafeBufferPointer<UInt32>,
                                     classes: UnsafeBufferPointer<UInt8>) -> Int {
    // (?i:'s|'t|'re|'ve|'m|'ll|'d): ASCII letters in either case, and U+017F (long s), which
    // case-folds to "s".
    if scalars[i] == 0x27, i + 1 < end {
      func folded(_ k: Int) -> UInt32 {
        let v = scalars[k]
        return v == 0x17F ? 0x73 : (v >= 0x41 && v <= 0x5A ? v + 0x20 : v)
      }
      switch folded(i + 1) {
      case 0x73, 0x74, 0x6D, 0x64: return i + 2  // s t m d
      case 0x72, 0x76:  // re ve
        if i + 2 < end && folded(i + 2) == 0x65 { return i + 3 }
      case 0x6C:  // ll
        if i + 2 < end && folded(i + 2) == 0x6C { return i + 3 }
      default: break
      }
    }
    let cls = classes[i]
    func run(from start: Int, of c: UInt8) -> Int {
      var j = start
      while j < end && classes[j] == c { j += 1 }
      return j
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if cls == letter { return run(from: i + 1, of: letter) }
    if cls != newline && cls != number && i + 1 < end && classes[i + 1] == letter { return run(from: i + 2, of: letter) }
    // \p{N}{1,maxDigits}
    if cls == number {
      var j = i + 1
      while j < end && j - i < maxDigits && classes[j] == number { j += 1 }
      return j
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let first = (cls == space && i + 1 < end) ? i + 1 : i
    if classes[first] == other { return run(from: run(from: first + 1, of: other), of: newline) }
    // Whitespace from here on. `\s*[\r\n]+`: up to the run's last line break.
    var j = i + 1
    while j < end && classes[j] >= whitespace { j += 1 }
    var k = j - 1
    while k >= i && classes[k] != newline { k -= 1 }
    if k >= i { return k + 1 }
    // `\s+(?!\S)`, then `\s+`.
    if j == end || j - i == 1 { return j }
    return j - 1
  }
}
