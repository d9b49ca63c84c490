/// Dequantizers for the ggml block formats, bit-identical to the `gguf` Python package:
/// products are computed as separate Float32 multiply and add (no FMA), in the same order.
/// Block layouts follow ggml-quants (llama.cpp); see DESIGN.md §3.
public enum Dequantize {
  /// Dequantizes `count` elements of `type` from `src` into `out`. `count` must be a multiple of
  /// the block size and `src` must hold `count / blockSize` whole blocks (`GGUFFile` checks both
  /// at parse time); `type.canDequantize` must be true. Violations are programming errors and trap.
  public static func run(_ type: GGMLType, _ src: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
    precondition(count >= 0 && count % type.blockSize == 0, "\(count) elements are not whole \(type) blocks")
    let blocks = count / type.blockSize
    precondition(src.count >= blocks * type.blockBytes, "\(src.count) bytes hold fewer than \(blocks) \(type) blocks")
    guard blocks > 0, let p = src.baseAddress else { return }
    switch type {
    case .f32:
      for i in 0..<count { out[i] = Float(bitPattern: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
    case .f16:
      for i in 0..<count { out[i] = half(p, 2 * i) }
    case .bf16:
      for i in 0..<count { out[i] = Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
    case .q8_0:
      for b in 0..<blocks { q8_0(p + 34 * b, out + 32 * b) }
    case .q4_0:
      for b in 0..<blocks { q4_0(p + 18 * b, out + 32 * b) }
    case .q4_1:
      for b in 0..<blocks { q4_1(p + 20 * b, out + 32 * b) }
    case .q4_K:
      for b in 0..<blocks { q4_K(p + 144 * b, out + 256 * b) }
    case .q6_K:
      for b in 0..<blocks { q6_K(p + 210 * b, out + 256 * b) }
    default:
      preconditionFailure("Dequantize.run called for unsupported type \(type); check canDequantize first")
    }
  }

  @inline(__always)
  static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
  }

  /// Q8_0: fp16 d, 32 × int8 q; x = d·q.
  @inline(__always)
  public static func q8_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = half(p, 0)
    for i in 0..<32 { y[i] = d * Float(p.load(fromByteOffset: 2 + i, as: Int8.self)) }
  }

  /// Q4_0: fp16 d, 16 bytes of nibbles; x = d·(q - 8); low nibbles are elements 0..15.
  @inline(__always)
  public static func q4_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = half(p, 0)
    for i in 0..<16 {
      let byte = p.load(fromByteOffset: 2 + i, as: UInt8.self)
      y[i] = d * Float(Int(byte & 0x0F) - 8)
      y[i + 16] = d * Float(Int(byte >> 4) - 8)
    }
  }

  /// Q4_1: fp16 d, fp16 m, 16 bytes of nibbles; x = d·q + m.
  @inline(__always)
  public static func q4_1(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = half(p, 0), m = half(p, 2)
    for i in 0..<16 {
      let byte = p.load(fromByteOffset: 4 + i, as: UInt8.self)
      y[i] = d * Float(byte & 0x0F) + m
      y[i + 16] = d * Float(byte >> 4) + m
    }
  }

  /// Scale and min of sub-block j of a Q4_K block (6-bit packed in 12 bytes).
  @inline(__always)
  static func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (UInt8, UInt8) {
    func b(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
    if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
    return ((b(j + 4) & 0xF) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4))
  }

  /// Q4_K: 256 values; fp16 d, fp16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
  /// Sub-block of 32: x = (d·sc)·q - (dmin·m).
  public static func q4_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = half(p, 0), dmin = half(p, 2)
    let scales = p + 4
    var q = p + 16
    var out = y
    var sub = 0
    for _ in 0..<4 {
      let (sc1, m1) = scaleMinK4(sub, scales)
      let (sc2, m2) = scaleMinK4(sub + 1, scales)
      let d1 = d * Float(sc1), min1 = dmin * Float(m1)
      let d2 = d * Float(sc2), min2 = dmin * Float(m2)
      for l in 0..<32 { out[l] = d1 * Float(q.load(fromByteOffset: l, as: UInt8.self) & 0xF) - min1 }
      for l in 0..<32 { out[32 + l] = d2 * Float(q.load(fromByteOffset: l, as: UInt8.self) >> 4) - min2 }
      out += 64; q += 32; sub += 2
    }
  }

  /// Q6_K: 256 values; 128 bytes low 4 bits, 64 bytes high 2 bits, 16 int8 scales, fp16 d.
  /// x = (d·scale)·(q - 32).
  public static func q6_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
    let d = half(p, 208)
    var ql = p, qh = p + 128, sc = p + 192
    var out = y
    for _ in 0..<2 {
      for l in 0..<32 {
        let isc = l / 16
        let l0 = ql.load(fromByteOffset: l, as: UInt8.self), l32 = ql.load(fromByteOffset: l + 32, as: UInt8.self)
        let h = qh.load(fromByteOffset: l, as: UInt8.self)
        let q1 = Int(l0 & 0xF | ((h >> 0) & 3) << 4) - 32
        let q2 = Int(l32 & 0xF | ((h >> 2) & 3) << 4) - 32
        let q3 = Int(l0 >> 4 | ((h >> 4) & 3) << 4) - 32
        let q4 = Int(l32 >> 4 | ((h >> 6) & 3) << 4) - 32
        func s(_ i: Int) -> Float { d * Float(sc.load(fromByteOffset: i, as: Int8.self)) }
        out[l] = s(isc) * Float(q1)
        out[l + 32] = s(isc + 2) * Float(q2)
        out[l + 64] = s(isc + 4) * Float(q3)
        out[l + 96] = s(isc + 6) * Float(q4)
      }
      out += 128; ql += 64; qh += 32; sc += 8
    }
  }
}
