/// Finds added tokens (control tokens such as `<|im_end|>`, and user-defined tokens) in text
/// before pre-tokenization, the way the `tokenizers` library's added vocabulary does: a
/// leftmost-longest match on the raw text (Aho-Corasick `LeftmostLongest`), with no stripping of
/// the surrounding whitespace. The matched pieces become single ids; the text between them goes
/// through the pre-tokenizer and BPE.
struct AddedTokenMatcher: Sendable {
  struct Entry: Sendable {
    let scalars: [UInt32]
    let id: Int
    /// Special tokens are skipped when the caller turns special-token parsing off;
    /// user-defined tokens are always matched (transformers' `split_special_tokens`).
    let special: Bool
  }

  /// Candidates by first scalar, longest first.
  private let byFirstScalar: [UInt32: [Entry]]
  /// Cheap pre-filter before the dictionary: which ASCII scalars start a token, and whether any
  /// non-ASCII one does (SmolLM2's all start with "<").
  private let asciiFirst: [Bool]
  private let nonASCIIFirst: Bool

  var isEmpty: Bool { byFirstScalar.isEmpty }

  init(_ entries: [Entry]) {
    var table: [UInt32: [Entry]] = [:]
    var ascii = [Bool](repeating: false, count: 128)
    var nonASCII = false
    for entry in entries where !entry.scalars.isEmpty {
      let first = entry.scalars[0]
      table[first, default: []].append(entry)
      if first < 128 { ascii[Int(first)] = true } else { nonASCII = true }
    }
    for key in table.keys { table[key]?.sort { $0.scalars.count > $1.scalars.count } }
    byFirstScalar = table
    asciiFirst = ascii
    nonASCIIFirst = nonASCII
  }

  /// The longest added token starting at `i`, or nil.
  @inline(__always)
  func match(at i: Int, in scalars: UnsafeBufferPointer<UInt32>, includeSpecial: Bool) -> Entry? {
    let first = scalars[i]
    guard first < 128 ? asciiFirst[Int(first)] : nonASCIIFirst, let candidates = byFirstScalar[first] else { return nil }
    let remaining = scalars.count - i
    outer: for entry in candidates where entry.scalars.count <= remaining && (includeSpecial || !entry.special) {
      for (k, s) in entry.scalars.enumerated() where scalars[i + k] != s { continue outer }
      return entry
    }
    return nil
  }
}
