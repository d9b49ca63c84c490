/// Quantizers of the GGUF block formats, as ggml's reference rows (`quantize_row_*_ref`).
public enum Quantize {
  /// Q4_0 blocks (18 bytes per 32 values: fp16 d, 16 bytes of nibbles) of `values`, whose count
  /// is a multiple of 32. Per block: the value of largest magnitude m gives d = m / -8, and each
  /// x is stored as q = min(15, trunc(x / d + 8.5)), so x ≈ d·(q - 8); elements 0..15 go to the
  /// low nibbles, 16..31 to the high ones (`Dequantize.q4_0` reads them back).
  public static func q4_0(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
    precondition(values.count % 32 == 0, "Q4_0 quantizes blocks of 32 values")
    var out = [UInt8](repeating: 0, count: values.count / 32 * 18)
    for b in 0..<(values.count / 32) {
      let x = values.baseAddress! + 32 * b
      var amax: Float = 0, max: Float = 0
      for j in 0..<32 where abs(x[j]) > amax { amax = abs(x[j]); max = x[j] }
      // A block so small that 1/d overflows quantizes to zeros (C's cast would; Swift's Int8(_:) traps on NaN).
      let d = max / -8, inverse = 1 / d, id: Float = d != 0 && inverse.isFinite ? inverse : 0
      let bits = Float16(d).bitPattern
      out[18 * b] = UInt8(bits & 0xFF); out[18 * b + 1] = UInt8(bits >> 8)
      for j in 0..<16 {
        func q(_ v: Float) -> UInt8 { v.isFinite ? UInt8(Swift.min(15, Swift.max(0, Int(v)))) : 8 }
        let q0 = q(x[j] * id + 8.5), q1 = q(x[16 + j] * id + 8.5)
        out[18 * b + 2 + j] = q0 | (q1 << 4)
      }
    }
    return out
  }

  /// Q4_K blocks (144 bytes per 256 values) of `values`, whose count is a multiple of 256, by
  /// plain min/max rounding (not ggml's search for the best scales): per sub-block of 32 the range
  /// [min(0, min x), max x] in 15 steps; the sub-blocks' scales and mins in 6 bits against the
  /// block's fp16 d and dmin; x ≈ (d·sc)·q - dmin·m. Layout as `Dequantize.q4_K` reads it.
  public static func q4_K(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
    precondition(values.count % 256 == 0, "Q4_K quantizes blocks of 256 values")
    var out = [UInt8](repeating: 0, count: values.count / 256 * 144)
    for b in 0..<(values.count / 256) {
      let x = values.baseAddress! + 256 * b, o = 144 * b
      var scale = [Float](repeating: 0, count: 8), low = [Float](repeating: 0, count: 8)
      for j in 0..<8 {
        var lo: Float = 0, hi: Float = -.infinity
        for i in 0..<32 { lo = Swift.min(lo, x[32 * j + i]); hi = Swift.max(hi, x[32 * j + i]) }
        scale[j] = Swift.max(0, hi - lo) / 15
        low[j] = -lo
      }
      let d = Float(Float16((scale.max() ?? 0) / 63)), dmin = Float(Float16((low.max() ?? 0) / 63))
      func six(_ v: Float, _ unit: Float) -> UInt8 { unit > 0 && v.isFinite ? UInt8(Swift.min(63, Swift.max(0, (v / unit).rounded()))) : 0 }
      let sc = scale.map { six($0, d) }, mn = low.map { six($0, dmin) }
      for (k, v) in [Float16(d).bitPattern, Float16(dmin).bitPattern].enumerated() {
        out[o + 2 * k] = UInt8(v & 0xFF); out[o + 2 * k + 1] = UInt8(v >> 8)
      }
      // 12 bytes of 6-bit scales and mins (the inverse of `Dequantize.scaleMinK4`).
      for j in 0..<4 {
        out[o + 4 + j] = sc[j] | ((sc[j + 4] >> 4) << 6)
        out[o + 8 + j] = mn[j] | ((mn[j + 4] >> 4) << 6)
        out[o + 12 + j] = (sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4)
      }
      // Nibbles: each 64 values take 32 bytes, the first 32 in the low nibbles.
      for j in 0..<8 {
        let step = d * Float(sc[j]), offset = dmin * Float(mn[j])
        for i in 0..<32 {
          let q = step > 0 ? UInt8(Swift.min(15, Swift.max(0, ((x[32 * j + i] + offset) / step).rounded()))) : 0
          let byte = o + 16 + 32 * (j / 2) + i
          out[byte] |= j % 2 == 0 ? q : q << 4
        }
      }
    }
    return out
  }

  /// `values` replaced, in place, by what their Q4_0 blocks decode to.
  public static func roundTripQ4_0(_ values: UnsafeMutableBufferPointer<Float>) {
    let blocks = q4_0(UnsafeBufferPointer(values))
    blocks.withUnsafeBytes { raw in
      for b in 0..<(values.count / 32) { Dequantize.q4_0(raw.baseAddress! + 18 * b, values.baseAddress! + 32 * b) }
    }
  }
}
