/// GPT-2's reversible byte <-> character mapping (`bytes_to_unicode` in the GPT-2 and
/// transformers sources). Byte-level BPE vocabularies spell every byte as one printable
/// character: the printable Latin-1 bytes stand for themselves and the other 68 bytes are shifted
/// to U+0100 and up in increasing byte order (so a space is "Ġ", U+0120, and "\n" is "Ċ").
enum ByteLevel {
  /// Character standing for each byte, indexed by the byte value.
  static let scalarForByte: [Unicode.Scalar] = {
    var table = [Unicode.Scalar](repeating: " ", count: 256)
    var shifted: UInt32 = 0
    for byte in 0..<256 {
      if isPrintable(UInt8(byte)) {
        table[byte] = Unicode.Scalar(UInt8(byte))
      } else {
        // 256 + n stays below U+0200: always a valid scalar.
        table[byte] = Unicode.Scalar(256 + shifted) ?? " "
        shifted += 1
      }
    }
    return table
  }()

  /// Inverse of `scalarForByte`: byte for each character of the alphabet (indexed by scalar
  /// value, all below U+0200), -1 for characters outside it.
  static let byteForScalar: [Int16] = {
    var table = [Int16](repeating: -1, count: 512)
    for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
    return table
  }()

  /// Bytes GPT-2 keeps as themselves: '!'...'~', '¡'...'¬', '®'...'ÿ'.
  private static func isPrintable(_ b: UInt8) -> Bool {
    (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
  }

  /// Appends the bytes of `token` to `out` and returns true, or leaves `out` unchanged and
  /// returns false when a character is outside the alphabet.
  static func appendBytes(ofToken token: String, to out: inout [UInt8]) -> Bool {
    let start = out.count
    for scalar in token.unicodeScalars {
      let byte = scalar.value < 512 ? byteForScalar[Int(scalar.value)] : -1
      guard byte >= 0 else {
        out.removeSubrange(start...)
        return false
      }
      out.append(UInt8(byte))
    }
    return true
  }
}
