import GGUF
import TensorCore

/// The rows of a frozen weight matrix kept in their GGUF block format (Q4_0, Q4_1, Q8_0), for
/// the memory-bound matrix-vector products of decoding: reading 0.6-1.06 bytes per weight
/// instead of 4 is what makes batch-1 generation fast. Values are exactly the dequantized
/// weights; only the summation order differs from the fp32 path.
public final class QuantizedRows: @unchecked Sendable {
  public let type: GGMLType
  public let rows: Int
  public let columns: Int
  let rowBytes: Int
  let data: UnsafeMutableRawPointer

  public static func supports(_ t: GGMLType) -> Bool { t == .q4_0 || t == .q4_1 || t == .q8_0 }

  /// Concatenates the rows of several tensors of the same type and width (e.g. q, k, v).
  public init(type: GGMLType, columns: Int, parts: [UnsafeRawBufferPointer]) {
    self.type = type
    self.columns = columns
    rowBytes = columns / type.blockSize * type.blockBytes
    let total = parts.reduce(0) { $0 + $1.count }
    rows = total / rowBytes
    data = UnsafeMutableRawPointer.allocate(byteCount: max(1, total), alignment: 64)
    var off = 0
    for p in parts { data.advanced(by: off).copyMemory(from: p.baseAddress!, byteCount: p.count); off += p.count }
  }

  deinit { data.deallocate() }

  /// y (rows) = W (rows, columns) · x (columns), or y += W·x when `accumulate`.
  /// Rows are split over the worker pool in chunks.
  public func matvec(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, accumulate: Bool) {
    let blocks = columns / 32
    // Block sums of x serve the "+ m" term of Q4_1 and the "- 8" offset of Q4_0.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: blocks) { sums in
      let xs = sums.baseAddress!
      for b in 0..<blocks { xs[b] = Vector.sum32(x + 32 * b) }
      let xp = SendablePointer(UnsafeMutablePointer(mutating: x)), yp = SendablePointer(y)
      let sp = SendablePointer(xs)
      let base = SendablePointer(data.assumingMemoryBound(to: UInt8.self))
      let chunk = 32
      let rowBytes = rowBytes, type = type, rows = rows
      WorkerPool.shared.parallelFor((rows + chunk - 1) / chunk) { c in
        for r in (c * chunk)..<min(rows, c * chunk + chunk) {
          let row = UnsafeRawPointer(base.p + r * rowBytes)
          let v: Float
          switch type {
          case .q4_1: v = QuantKernels.dotQ4_1(row, xp.p, sp.p, blocks)
          case .q4_0: v = QuantKernels.dotQ4_0(row, xp.p, sp.p, blocks)
          default: v = QuantKernels.dotQ8_0(row, xp.p, blocks)
          }
          yp[r] = accumulate ? yp[r] + v : v
        }
      }
    }
  }
}

/// Dot products of one quantized row with a float vector. Q4_0 and Q4_1 stay separate loops:
/// a shared one (Q4_0 as Q4_1 with m = -8d) measured 3-5% slower decoding.
enum QuantKernels {
  /// Σ_b d_b·(q_b · x_b) + m_b·Σx_b over Q4_1 blocks (20 bytes: d, m, 16 bytes of nibbles).
  @inline(__always)
  static func dotQ4_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsum: UnsafePointer<Float>, _ blocks: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var mterm: Float = 0
    let xr = UnsafeRawPointer(x)
    for b in 0..<blocks {
      let p = row + 20 * b
      let d = Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self)))
      let m = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
      let q = p.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
      let lo = nibblesToFloat(q & 0x0F), hi = nibblesToFloat(q &>> 4)
      let dv = SIMD8<Float>(repeating: d)
      let xo = 128 * b
      acc0.addProduct(lo.0 * dv, xr.loadUnaligned(fromByteOffset: xo, as: SIMD8<Float>.self))
      acc1.addProduct(lo.1 * dv, xr.loadUnaligned(fromByteOffset: xo + 32, as: SIMD8<Float>.self))
      acc0.addProduct(hi.0 * dv, xr.loadUnaligned(fromByteOffset: xo + 64, as: SIMD8<Float>.self))
      acc1.addProduct(hi.1 * dv, xr.loadUnaligned(fromByteOffset: xo + 96, as: SIMD8<Float>.self))
      mterm += m * xsum[b]
    }
    return (acc0 + acc1).sum() + mterm
  }

  /// Σ_b d_b·(q_b · x_b) - 8·d_b·Σx_b over Q4_0 blocks (18 bytes: d, 16 bytes of nibbles).
  @inline(__always)
  static func dotQ4_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsum: UnsafePointer<Float>, _ blocks: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var offset: Float = 0
    let xr = UnsafeRawPointer(x)
    for b in 0..<blocks {
      let p = row + 18 * b
      let d = Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self)))
      let q = p.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
      let lo = nibblesToFloat(q & 0x0F), hi = nibblesToFloat(q &>> 4)
      let dv = SIMD8<Float>(repeating: d)
      let xo = 128 * b
      acc0.addProduct(lo.0 * dv, xr.loadUnaligned(fromByteOffset: xo, as: SIMD8<Float>.self))
      acc1.addProduct(lo.1 * dv, xr.loadUnaligned(fromByteOffset: xo + 32, as: SIMD8<Float>.self))
      acc0.addProduct(hi.0 * dv, xr.loadUnaligned(fromByteOffset: xo + 64, as: SIMD8<Float>.self))
      acc1.addProduct(hi.1 * dv, xr.loadUnaligned(fromByteOffset: xo + 96, as: SIMD8<Float>.self))
      offset += 8 * d * xsum[b]
    }
    return (acc0 + acc1).sum() - offset
  }

  /// Σ_b d_b·(q_b · x_b) over Q8_0 blocks (34 bytes: d, 32 × int8).
  @inline(__always)
  static func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ blocks: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    for b in 0..<blocks {
      let p = row + 34 * b
      let d = Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self)))
      let dv = SIMD8<Float>(repeating: d)
      let xo = 128 * b
      for j in 0..<2 {
        let q = p.loadUnaligned(fromByteOffset: 2 + 16 * j, as: SIMD16<Int8>.self)
        let f = int8ToFloat(q)
        acc0.addProduct(f.0 * dv, xr.loadUnaligned(fromByteOffset: xo + 64 * j, as: SIMD8<Float>.self))
        acc1.addProduct(f.1 * dv, xr.loadUnaligned(fromByteOffset: xo + 64 * j + 32, as: SIMD8<Float>.self))
      }
    }
    return (acc0 + acc1).sum()
  }

  /// Widens 16 values in 0...255 to two SIMD8<Float> without the generic (slow) SIMD
  /// conversion initialisers: place each byte in the mantissa of 2^23 and subtract 2^23.
  @inline(__always)
  static func nibblesToFloat(_ v: SIMD16<UInt8>) -> (SIMD8<Float>, SIMD8<Float>) {
    let magic = SIMD8<UInt32>(repeating: 0x4B00_0000)
    let lo = SIMD8<UInt32>(UInt32(v[0]), UInt32(v[1]), UInt32(v[2]), UInt32(v[3]),
                           UInt32(v[4]), UInt32(v[5]), UInt32(v[6]), UInt32(v[7])) | magic
    let hi = SIMD8<UInt32>(UInt32(v[8]), UInt32(v[9]), UInt32(v[10]), UInt32(v[11]),
                           UInt32(v[12]), UInt32(v[13]), UInt32(v[14]), UInt32(v[15])) | magic
    let bias = SIMD8<Float>(repeating: 8_388_608)
    return (unsafeBitCast(lo, to: SIMD8<Float>.self) - bias, unsafeBitCast(hi, to: SIMD8<Float>.self) - bias)
  }

  /// Widens 16 int8 values to two SIMD8<Float> (offset by 128 into the unsigned trick).
  @inline(__always)
  static func int8ToFloat(_ v: SIMD16<Int8>) -> (SIMD8<Float>, SIMD8<Float>) {
    let u = unsafeBitCast(v, to: SIMD16<UInt8>.self) ^ 0x80  // q + 128 in 0...255
    let (a, b) = nibblesToFloat(u)
    let off = SIMD8<Float>(repeating: 128)
    return (a - off, b - off)
  }
}
