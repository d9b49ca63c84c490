/// Open-addressing hash map from a pair of token ids to (merge rank, merged id), the hot lookup
/// of BPE. A multiplicative hash of the packed pair and linear probing over a power-of-two table
/// at most half full: a lookup is a multiply, a shift and usually one compare (Swift's
/// `Dictionary` would run SipHash on every lookup).
struct PairTable: Sendable {
  /// Returned by `lookup` for a pair without a merge.
  static let absent = UInt64.max
  private static let empty = UInt64.max

  private var keys: [UInt64]
  private var values: [UInt64]
  private let shift: UInt64
  private let mask: Int

  init(capacity: Int) {
    var size = 16
    while size < 2 * capacity { size <<= 1 }
    keys = [UInt64](repeating: Self.empty, count: size)
    values = [UInt64](repeating: 0, count: size)
    mask = size - 1
    shift = UInt64(64 - size.trailingZeroBitCount)
  }

  @inline(__always)
  private static func pack(_ a: Int32, _ b: Int32) -> UInt64 {
    UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
  }

  @inline(__always)
  private func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

  /// Inserts or replaces (a later duplicate merge overwrites the earlier one).
  mutating func insert(left: Int32, right: Int32, rank: UInt32, merged: Int32) {
    let key = Self.pack(left, right)
    var i = slot(key)
    while keys[i] != Self.empty && keys[i] != key { i = (i + 1) & mask }
    keys[i] = key
    values[i] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
  }

  /// rank << 32 | merged id, or `absent`.
  @inline(__always)
  func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
    let key = Self.pack(left, right)
    return keys.withUnsafeBufferPointer { k in
      var i = slot(key)
      while true {
        let stored = k[i]
        if stored == key { return values[i] }
        if stored == Self.empty { return Self.absent }
        i = (i + 1) & mask
      }
    }
  }
}
