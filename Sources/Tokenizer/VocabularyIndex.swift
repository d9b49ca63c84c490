/// Byte string -> token id, over the contiguous bytes of the whole vocabulary.
///
/// Every token of a byte-level vocabulary stands for one byte string (its spelling decoded through
/// GPT-2's byte alphabet, or its UTF-8 when transformers re-spells it), so looking tokens up by
/// bytes is the same map as transformers' spelling -> id, and it avoids Swift's
/// canonical-equivalence `String` hashing. Open addressing with the 64-bit hash stored beside each
/// id, so a probe touches the key bytes only on a hash match; building the index for SmolLM2's
/// 49,152 tokens and resolving its 48,900 merges takes a few milliseconds.
struct VocabularyIndex: Sendable {
  /// Concatenated bytes of every token and the start of each (plus the end).
  let bytes: [UInt8]
  let offsets: [Int]
  private var hashes: [UInt64]
  private var ids: [Int32]  // -1: empty slot
  private let mask: Int

  /// Indexes `bytes[offsets[id] ..< offsets[id + 1]]` for every id; when two ids stand for the
  /// same bytes the later one wins (as in the Python dict transformers builds).
  init(bytes: [UInt8], offsets: [Int]) {
    self.bytes = bytes
    self.offsets = offsets
    let count = offsets.count - 1
    var size = 16
    while size < 2 * count { size <<= 1 }
    hashes = [UInt64](repeating: 0, count: size)
    ids = [Int32](repeating: -1, count: size)
    mask = size - 1
    for id in 0..<count {
      bytes.withUnsafeBufferPointer { all in
        insert(id: id, key: UnsafeBufferPointer(rebasing: all[offsets[id]..<offsets[id + 1]]))
      }
    }
  }

  /// FNV-1a over the bytes, then a final avalanche so the low bits used as slot are mixed.
  @inline(__always)
  static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in key { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    h ^= h >> 33
    h = h &* 0xFF51_AFD7_ED55_8CCD
    h ^= h >> 33
    return h
  }

  private func equals(id: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
    let start = offsets[id], end = offsets[id + 1]
    guard end - start == key.count else { return false }
    return bytes.withUnsafeBufferPointer { all in
      for k in 0..<key.count where all[start + k] != key[k] { return false }
      return true
    }
  }

  private mutating func insert(id: Int, key: UnsafeBufferPointer<UInt8>) {
    let h = Self.hash(key)
    var slot = Int(truncatingIfNeeded: h) & mask
    while ids[slot] >= 0 {
      if hashes[slot] == h && equals(id: Int(ids[slot]), key) { break }
      slot = (slot + 1) & mask
    }
    hashes[slot] = h
    ids[slot] = Int32(id)
  }

  /// The id standing for `key`, nil if none.
  func id(of key: UnsafeBufferPointer<UInt8>) -> Int? {
    let h = Self.hash(key)
    var slot = Int(truncatingIfNeeded: h) & mask
    while ids[slot] >= 0 {
      if hashes[slot] == h && equals(id: Int(ids[slot]), key) { return Int(ids[slot]) }
      slot = (slot + 1) & mask
    }
    return nil
  }

  func id(of key: [UInt8]) -> Int? { key.withUnsafeBufferPointer { id(of: $0) } }

  /// The bytes `id` stands for.
  @inline(__always)
  func tokenBytes(_ id: Int) -> ArraySlice<UInt8> { bytes[offsets[id]..<offsets[id + 1]] }
}
