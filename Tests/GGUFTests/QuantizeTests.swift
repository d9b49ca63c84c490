import Foundation
import GGUF
import Testing

/// Q4_0 quantization as ggml's reference row quantizer defines it, on hand-computed blocks.
struct QuantizeTests {
  @Test func q4_0MatchesTheReferenceRuleOnAHandBlock() {
    // x_j = (j - 16) / 2: the largest magnitude is x_0 = -8, so d = -8 / -8 = 1 and q = min(15, trunc(x + 8.5)).
    let x = (0..<32).map { Float($0 - 16) * 0.5 }
    let bytes = x.withUnsafeBufferPointer { Quantize.q4_0($0) }
    #expect(bytes.count == 18 && bytes[0] == 0x00 && bytes[1] == 0x3C)  // fp16(1.0) = 0x3C00, little-endian
    func q(_ v: Float) -> Int { min(15, Int(v + 8.5)) }
    for j in 0..<16 { #expect(bytes[2 + j] == UInt8(q(x[j]) | (q(x[16 + j]) << 4)), "byte \(j)") }
    var y = x
    y.withUnsafeMutableBufferPointer { Quantize.roundTripQ4_0($0) }
    // Decoded d·(q - 8): -8 stays, -7.5 rounds half up to -7, 7.5 is clipped to 7.
    #expect(y[0] == -8 && y[1] == -7 && y[31] == 7 && y[16] == 0)
    #expect(zip(x, y).allSatisfy { abs($0 - $1) <= 0.5 })
  }

  @Test func aZeroBlockStaysZeroAndTheScaleFollowsTheLargestMagnitude() {
    var zeros = [Float](repeating: 0, count: 64)
    zeros.withUnsafeMutableBufferPointer { Quantize.roundTripQ4_0($0) }
    #expect(zeros.allSatisfy { $0 == 0 })
    // Largest magnitude positive (+4): d = 4 / -8 = -0.5, so 4 -> q 0 -> -0.5·(0 - 8) = 4, and -4 -> q = min(15, 16) = 15 -> -3.5.
    var x = [Float](repeating: 0, count: 32)
    x[3] = 4; x[20] = -4
    x.withUnsafeMutableBufferPointer { Quantize.roundTripQ4_0($0) }
    #expect(x[3] == 4 && x[20] == -3.5 && x[0] == 0)
  }

  /// Q4_K by min/max rounding: a hand block whose sub-blocks are exact on their grids decodes
  /// exactly; random blocks decode within half a step of their sub-block plus the 6-bit scale error.
  @Test func q4_KDecodesHandAndRandomBlocks() {
    // Sub-block j holds 0, 1, ..., 15 (twice) times (j + 1) / 8: min 0, step (j + 1) / 8.
    var x = [Float](repeating: 0, count: 256)
    for j in 0..<8 { for i in 0..<32 { x[32 * j + i] = Float(i % 16) * Float(j + 1) / 8 } }
    let blocks = x.withUnsafeBufferPointer { Quantize.q4_K($0) }
    #expect(blocks.count == 144)
    var y = [Float](repeating: 0, count: 256)
    blocks.withUnsafeBytes { Dequantize.q4_K($0.baseAddress!, &y) }
    // d = 1/63 (the largest step, 1, over 63), so the steps j+1/8 are not all on the 6-bit grid:
    // each decodes within the scale's rounding (half of d per unit of q).
    let bound: Float = 15 * 0.5 / 63 + 1e-3
    let errors = zip(x, y).map { abs($0 - $1) }
    #expect(errors.allSatisfy { $0 <= bound }, "worst \(errors.max()!)")
    // Fixed pseudo-random values in [-1, 0.6].
    let r = (0..<1024).map { (i: Int) -> Float in 0.8 * Float(sin(Double(i) * 12.9898)) - 0.2 }
    let q = r.withUnsafeBufferPointer { Quantize.q4_K($0) }
    var back = [Float](repeating: 0, count: 1024)
    q.withUnsafeBytes { raw in for b in 0..<4 { Dequantize.q4_K(raw.baseAddress! + 144 * b, &back[256 * b]) } }
    let worst = zip(r, back).map { abs($0 - $1) }.max()!
    #expect(worst < 0.12, "worst error \(worst) on values in [-1, 0.6]")
    let zeros = [Float](repeating: 0, count: 256)
    var z = zeros
    let zq = zeros.withUnsafeBufferPointer { Quantize.q4_K($0) }
    zq.withUnsafeBytes { Dequantize.q4_K($0.baseAddress!, &z) }
    #expect(z.allSatisfy { $0 == 0 })
  }
}
