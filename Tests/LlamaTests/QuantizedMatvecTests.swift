import Foundation
import GGUF
import Llama
import TensorCore
import TestSupport
import Testing

/// The quantized matrix-vector kernels of decoding equal the fp32 product of the dequantized
/// weights (only the summation order differs).
struct QuantizedMatvecTests {
  static func blocks(_ type: GGMLType, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededRNG(seed: seed)
    let rowBytes = columns / 32 * type.blockBytes
    var bytes = [UInt8](repeating: 0, count: rows * rowBytes)
    for b in 0..<(rows * columns / 32) {
      let o = b * type.blockBytes
      for i in 0..<type.blockBytes { bytes[o + i] = UInt8(truncatingIfNeeded: rng.next()) }
      // Sane fp16 scale (and min) in [0.001, 0.05).
      let d = Float16(0.001 + rng.nextFloat() * 0.049).bitPattern
      bytes[o] = UInt8(d & 0xFF); bytes[o + 1] = UInt8(d >> 8)
      if type == .q4_1 {
        let m = Float16(-0.1 + rng.nextFloat() * 0.05).bitPattern
        bytes[o + 2] = UInt8(m & 0xFF); bytes[o + 3] = UInt8(m >> 8)
      }
    }
    return bytes
  }

  @Test(arguments: [GGMLType.q4_0, .q4_1, .q8_0])
  func matvecEqualsDequantizedProduct(type: GGMLType) {
    let rows = 70, columns = 96
    let bytes = Self.blocks(type, rows: rows, columns: columns, seed: UInt64(type.rawValue))
    var w = [Float](repeating: 0, count: rows * columns)
    bytes.withUnsafeBytes { Dequantize.run(type, $0, count: rows * columns, into: &w) }
    var rng = SeededRNG(seed: 9)
    let x = (0..<columns).map { _ in rng.nextFloat() * 2 - 1 }
    let q = bytes.withUnsafeBytes { QuantizedRows(type: type, columns: columns, parts: [$0]) }
    var y = [Float](repeating: 1, count: rows)
    q.matvec(x, &y, accumulate: false)
    var yAcc = [Float](repeating: 1, count: rows)
    q.matvec(x, &yAcc, accumulate: true)
    for r in 0..<rows {
      let ref = (0..<columns).map { Double(w[r * columns + $0]) * Double(x[$0]) }.reduce(0, +)
      #expect(abs(Double(y[r]) - ref) < 1e-4, "row \(r)")
      #expect(abs(Double(yAcc[r]) - (ref + 1)) < 1e-4)
    }
  }
}
