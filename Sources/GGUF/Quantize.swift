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

  /// `values` replaced, in place, by what their Q4_0 blocks decode to.
  public static func roundTripQ4_0(_ values: UnsafeMutableBufferPointer<Float>) {
    let blocks = q4_0(UnsafeBufferPointer(values))
    blocks.withUnsafeBytes { raw in
      for b in 0..<(values.count / 32) { Dequantize.q4_0(raw.baseAddress! + 18 * b, values.baseAddress! + 32 * b) }
    }
  }
}
