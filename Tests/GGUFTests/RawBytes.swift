/// Little-endian helpers for building and patching raw GGUF bytes in tests.
extension [UInt8] {
  mutating func put<T: FixedWidthInteger>(_ value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
  }

  /// A GGUF string: uint64 byte count, then the UTF-8 bytes.
  mutating func put(string: String) {
    put(UInt64(string.utf8.count))
    append(contentsOf: string.utf8)
  }

  mutating func set<T: FixedWidthInteger>(_ value: T, at offset: Int) {
    Swift.withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { self[offset + i] = b } }
  }

  func get<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
    var v: T = 0
    for i in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: self[offset + i]) << (8 * i) }
    return v
  }

  /// Offset just past the first GGUF string equal to `s` (its uint64 length, then its bytes):
  /// for a metadata key that is where the value type is; for a tensor name, the dimension count.
  func after(string s: String) -> Int? {
    var needle: [UInt8] = []
    needle.put(string: s)
    guard count >= needle.count else { return nil }
    for i in 0...(count - needle.count) where self[i] == needle[0] && Array(self[i..<(i + needle.count)]) == needle {
      return i + needle.count
    }
    return nil
  }
}
