/// FNV-1a, 64 bit (Fowler, Noll, Vo): a fast, stable, non-cryptographic hash for stamps that tie
/// a saved folder to the rows it was made from (a probe folder, a training checkpoint). Not for
/// anything an attacker chooses to collide; content hashes of files use `SHA256`.
public struct FNV1a64: Sendable {
  public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

  public init() {}

  public mutating func add(_ bytes: some Sequence<UInt8>) {
    for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
  }

  /// The 8 bytes of `v`, least significant first.
  public mutating func add(_ v: Int) {
    var x = UInt64(bitPattern: Int64(v))
    for _ in 0..<8 {
      value = (value ^ (x & 0xFF)) &* 0x0000_0100_0000_01B3
      x >>= 8
    }
  }

  /// The value in lowercase hexadecimal, without leading zeros.
  public var hex: String { String(value, radix: 16) }
}
