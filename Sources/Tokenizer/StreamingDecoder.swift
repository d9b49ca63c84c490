/// Incremental detokenizer for generation: feed ids one by one and get the text that became
/// complete. A UTF-8 character whose bytes are split across tokens (emoji, CJK, accented letters
/// in some vocabularies) is held back until its last byte arrives, so the pieces never contain a
/// spurious U+FFFD; the concatenation of every `push` and the final `flush` equals
/// `tokenizer.decode(ids)` for the same ids.
public struct StreamingDecoder: Sendable {
  public let tokenizer: BPETokenizer
  public let skipSpecial: Bool
  /// Bytes received but not yet returned: at most an incomplete character.
  private var pending: [UInt8] = []

  public init(tokenizer: BPETokenizer, skipSpecial: Bool = false) {
    self.tokenizer = tokenizer
    self.skipSpecial = skipSpecial
  }

  /// Adds one token and returns the text completed by it (possibly empty).
  public mutating func push(_ id: Int) -> String {
    tokenizer.appendBytes(of: id, skipSpecial: skipSpecial, to: &pending)
    let keep = Self.incompleteSuffixLength(pending)
    let ready = pending.count - keep
    guard ready > 0 else { return "" }
    let text = String(decoding: pending[0..<ready], as: UTF8.self)
    pending.removeFirst(ready)
    return text
  }

  /// Returns whatever is still held back (an unfinished character becomes U+FFFD).
  public mutating func flush() -> String {
    defer { pending.removeAll() }
    return String(decoding: pending, as: UTF8.self)
  }

  /// Length of the trailing bytes that are a proper, still valid prefix of a multi-byte UTF-8
  /// character (0 if none). Splitting there is safe: a lead byte always starts a fresh decode, so
  /// decoding the two parts separately gives the same text as decoding them together.
  static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
    let n = bytes.count
    // Find the last lead byte among the final three bytes.
    var start = n - 1
    while start >= 0 && start >= n - 3 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
    guard start >= 0 && start >= n - 3 else { return 0 }
    let lead = bytes[start]
    let needed: Int
    switch lead {
    case 0xC2...0xDF: needed = 2
    case 0xE0...0xEF: needed = 3
    case 0xF0...0xF4: needed = 4
    default: return 0  // ASCII, a stray continuation or an invalid lead: nothing to wait for
    }
    let have = n - start
    guard have < needed else { return 0 }
    // The second byte has a narrower range after some leads (no overlongs, no surrogates,
    // nothing above U+10FFFF); a tail that can never complete is released now.
    if have >= 2 {
      let second = bytes[start + 1]
      let valid: ClosedRange<UInt8>
      switch lead {
      case 0xE0: valid = 0xA0...0xBF
      case 0xED: valid = 0x80...0x9F
      case 0xF0: valid = 0x90...0xBF
      case 0xF4: valid = 0x80...0x8F
      default: valid = 0x80...0xBF
      }
      guard valid.contains(second) else { return 0 }
    }
    return have
  }
}
