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

  var isEmpty: Bool { byFirstScalar.isEmpty }

  init(_ entries: [Entry]) {
    var table: [UInt32: [Entry]] = [:]
    for entry in entries where !entry.scalars.isEmpty {
      table[entry.scalars[0], default: []].append(entry)
    }
    for key in table.keys { table[key]?.sort { $0.scalars.count > $1.scalars.count } }
    byFirstScalar = table
  }

  /// The longest added token starting at `i`, or nil.
  @inline(__always)
  func match(at i: Int, in scalars: UnsafeBufferPointer<UInt32>, includeSpecial: Bool) -> Entry? {
    guard let candidates = byFirstScalar[scalars[i]] else { return nil }
    let remaining = scalars.count - i
    outer: for entry in candidates where entry.scalars.count <= remaining && (includeSpecial || !entry.special) {
      for (k, s) in entry.scalars.enumerated() where scalars[i + k] != s { continue outer }
      return entry
    }
    return nil
  }
}
