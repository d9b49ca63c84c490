/// Seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64). Every random
/// choice in the project takes one of these by `inout`, so a seed reproduces a run exactly.
/// The state is four words in fields (not an array: `next` is inlined into hot loops such as
/// LoRA dropout masks); it is encoded as `{"state": [4 integers]}`.
public struct SeededRNG: RandomNumberGenerator, Codable, Sendable, Equatable {
  @usableFromInline var s0, s1, s2, s3: UInt64

  /// The four words of the xoshiro256** state.
  public var state: [UInt64] { [s0, s1, s2, s3] }

  public init(seed: UInt64) {
    var s = seed
    func splitmix() -> UInt64 {
      s &+= 0x9E37_79B9_7F4A_7C15
      var z = s
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
  }

  enum CodingKeys: String, CodingKey { case state }

  /// Rejects anything but four words, not all zero (xoshiro256** would return zeros forever).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let words = try c.decode([UInt64].self, forKey: .state)
    guard words.count == 4, words.contains(where: { $0 != 0 }) else {
      throw DecodingError.dataCorruptedError(forKey: .state, in: c,
                                             debugDescription: "is \(words), expected 4 integers, not all 0 (xoshiro256** state)")
    }
    s0 = words[0]; s1 = words[1]; s2 = words[2]; s3 = words[3]
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(state, forKey: .state)
  }

  @inlinable @inline(__always)
  public mutating func next() -> UInt64 {
    let result = Self.rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
    s2 ^= t
    s3 = Self.rotl(s3, 45)
    return result
  }

  @inlinable @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  /// Uniform in [0, 1) with 24 bits of precision.
  @inlinable public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
}
