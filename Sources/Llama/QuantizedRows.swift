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

  /// Types with a fused matrix-vector kernel (kept beside fp32 weights for decoding).
  public static func supports(_ t: GGMLType) -> Bool { t == .q4_0 || t == .q4_1 || t == .q8_0 }
  /// Types a quantized-only layer can keep (`BaseWeights.quantized`): the fused ones, the k-quants
  /// and the 16-bit floats, dequantized row by row where no fused kernel exists.
  public static func canHold(_ t: GGMLType) -> Bool { supports(t) || [.q4_K, .q6_K, .f16, .bf16].contains(t) }

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

  private init(type: GGMLType, rows: Int, columns: Int, rowBytes: Int, data: UnsafeMutableRawPointer) {
    self.type = type; self.rows = rows; self.columns = columns; self.rowBytes = rowBytes; self.data = data
  }

  /// A copy whose row `i` is this one's row `order[i]`.
  public func reordered(_ order: [Int]) -> QuantizedRows {
    let out = UnsafeMutableRawPointer.allocate(byteCount: max(1, rows * rowBytes), alignment: 64)
    for (to, from) in order.enumerated() { out.advanced(by: to * rowBytes).copyMemory(from: data.advanced(by: from * rowBytes), byteCount: rowBytes) }
    return QuantizedRows(type: type, rows: rows, columns: columns, rowBytes: rowBytes, data: out)
  }

  deinit { data.deallocate() }

  /// Bytes held.
  public var byteCount: Int { rows * rowBytes }

  /// out (range.count, columns) = the rows `range` dequantized (the values the GGUF reader gives),
  /// split over the worker pool.
  public func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
    let base = SendablePointer(data.assumingMemoryBound(to: UInt8.self)), o = SendablePointer(out)
    let rowBytes = rowBytes, columns = columns, type = type, first = range.lowerBound, chunk = 8
    WorkerPool.shared.parallelFor((range.count + chunk - 1) / chunk) { c in
      for i in (c * chunk)..<min(range.count, c * chunk + chunk) {
        let row = UnsafeRawPointer(base.p + (first + i) * rowBytes), out = o.p + i * columns
        switch type {
        case .q4_0: QuantKernels.dequantizeQ4(Q4_0Layout.self, row, out, columns / 32)
        case .q4_1: QuantKernels.dequantizeQ4(Q4_1Layout.self, row, out, columns / 32)
        case .q8_0: QuantKernels.dequantizeQ8_0(row, out, columns / 32)
        default: Dequantize.run(type, UnsafeRawBufferPointer(start: row, count: rowBytes), count: columns, into: out)
        }
      }
    }
  }

  /// y (rows) = W (rows, columns) · x (columns), or y += W·x when `accumulate`.
  /// Rows are split over the worker pool in chunks.
  public func matvec(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, accumulate: Bool) {
    guard Self.supports(type) else { return matvecByRows(x, y, accumulate: accumulate) }
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
          case .q4_1: v = QuantKernels.dotQ4(Q4_1Layout.self, row, xp.p, sp.p, blocks)
          case .q4_0: v = QuantKernels.dotQ4(Q4_0Layout.self, row, xp.p, sp.p, blocks)
          default: v = QuantKernels.dotQ8_0(row, xp.p, blocks)
          }
          yp[r] = accumulate ? yp[r] + v : v
        }
      }
    }
  }
}

extension QuantizedRows {
  /// The matrix-vector product for types without a fused kernel: each row dequantized, then a dot.
  func matvecByRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, accumulate: Bool) {
    let base = SendablePointer(data.assumingMemoryBound(to: UInt8.self))
    let xp = SendablePointer(UnsafeMutablePointer(mutating: x)), yp = SendablePointer(y)
    let rowBytes = rowBytes, columns = columns, type = type, rows = rows, chunk = 32
    WorkerPool.shared.parallelFor((rows + chunk - 1) / chunk) { c in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: columns) { row in
        for r in (c * chunk)..<min(rows, c * chunk + chunk) {
          Dequantize.run(type, UnsafeRawBufferPointer(start: base.p + r * rowBytes, count: rowBytes), count: columns, into: row.baseAddress!)
          let v = Vector.dot(row.baseAddress!, xp.p, columns)
          yp[r] = accumulate ? yp[r] + v : v
        }
      }
    }
  }
}

/// Dot products of one quantized row with a float vector. Q4_0 and Q4_1 share one generic loop,
/// specialised at compile time per layout, so each still gets a machine loop of its own (one loop
/// shared at run time, Q4_0 as Q4_1 with m = -8d, measured 3-5% slower decoding).
enum QuantKernels {
  /// Σ_b d_b·(q_b · x_b) ± Σ_b offset_b·Σx_b over the Q4 blocks of `Layout` (Q4_1: + m_b·Σx_b;
  /// Q4_0: - 8·d_b·Σx_b).
  @inline(__always)
  static func dotQ4<Layout: Q4Layout>(_: Layout.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                                      _ xsum: UnsafePointer<Float>, _ blocks: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var offsets: Float = 0
    for b in 0..<blocks {
      let p = row + Layout.blockBytes * b
      let d = half(p, 0)
      let q = p.loadUnaligned(fromByteOffset: Layout.nibblesOffset, as: SIMD16<UInt8>.self)
      addNibbles(q, d, UnsafeRawPointer(x + 32 * b), &acc0, &acc1)
      offsets += Layout.offset(p, d) * xsum[b]
    }
    return Layout.combine((acc0 + acc1).sum(), offsets)
  }

  /// Σ_b d_b·(q_b · x_b) over Q8_0 blocks (34 bytes: d, 32 × int8).
  @inline(__always)
  static func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ blocks: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    for b in 0..<blocks {
      let p = row + 34 * b
      let dv = SIMD8<Float>(repeating: half(p, 0))
      let xb = UnsafeRawPointer(x + 32 * b)
      for j in 0..<2 {
        let q = p.loadUnaligned(fromByteOffset: 2 + 16 * j, as: SIMD16<Int8>.self)
        addScaled(int8ToFloat(q), dv, xb + 64 * j, &acc0, &acc1)
      }
    }
    return (acc0 + acc1).sum()
  }

  /// A row of Q4 blocks dequantized 16 values at a time: d·q + m (Q4_1) or d·(q - 8) (Q4_0),
  /// bit-identical to `Dequantize` (the products are exact; one rounding in the Q4_1 sum).
  @inline(__always)
  static func dequantizeQ4<Layout: Q4Layout>(_: Layout.Type, _ row: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let p = row + Layout.blockBytes * b
      let d = SIMD8<Float>(repeating: half(p, 0))
      let q = p.loadUnaligned(fromByteOffset: Layout.nibblesOffset, as: SIMD16<UInt8>.self)
      let out = UnsafeMutableRawPointer(y + 32 * b)
      let low = nibblesToFloat(q & 0x0F), high = nibblesToFloat(q &>> 4)
      out.storeBytes(of: Layout.value(low.0, d, p), as: SIMD8<Float>.self)
      out.storeBytes(of: Layout.value(low.1, d, p), toByteOffset: 32, as: SIMD8<Float>.self)
      out.storeBytes(of: Layout.value(high.0, d, p), toByteOffset: 64, as: SIMD8<Float>.self)
      out.storeBytes(of: Layout.value(high.1, d, p), toByteOffset: 96, as: SIMD8<Float>.self)
    }
  }

  /// A row of Q8_0 blocks dequantized: d·q.
  @inline(__always)
  static func dequantizeQ8_0(_ row: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let p = row + 34 * b
      let d = SIMD8<Float>(repeating: half(p, 0))
      let out = UnsafeMutableRawPointer(y + 32 * b)
      for j in 0..<2 {
        let (lo, hi) = int8ToFloat(p.loadUnaligned(fromByteOffset: 2 + 16 * j, as: SIMD16<Int8>.self))
        out.storeBytes(of: lo * d, toByteOffset: 64 * j, as: SIMD8<Float>.self)
        out.storeBytes(of: hi * d, toByteOffset: 64 * j + 32, as: SIMD8<Float>.self)
      }
    }
  }

  /// The fp16 scale stored `offset` bytes into a block, as a Float.
  @inline(__always)
  static func half(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
  }

  /// One Q4 block's d·(q · x) into the accumulators: the low nibbles of `q` are weights 0-15 of
  /// the block, the high nibbles weights 16-31; `x` points at the block's 32 inputs.
  @inline(__always)
  static func addNibbles(_ q: SIMD16<UInt8>, _ d: Float, _ x: UnsafeRawPointer,
                         _ acc0: inout SIMD8<Float>, _ acc1: inout SIMD8<Float>) {
    let dv = SIMD8<Float>(repeating: d)
    addScaled(nibblesToFloat(q & 0x0F), dv, x, &acc0, &acc1)
    addScaled(nibblesToFloat(q &>> 4), dv, x + 64, &acc0, &acc1)
  }

  /// acc0 += w.0·dv·x[0..<8] and acc1 += w.1·dv·x[8..<16], for 16 widened weights `w` and the
  /// 16 inputs at `x`.
  @inline(__always)
  static func addScaled(_ w: (SIMD8<Float>, SIMD8<Float>), _ dv: SIMD8<Float>, _ x: UnsafeRawPointer,
                        _ acc0: inout SIMD8<Float>, _ acc1: inout SIMD8<Float>) {
    acc0.addProduct(w.0 * dv, x.loadUnaligned(as: SIMD8<Float>.self))
    acc1.addProduct(w.1 * dv, x.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
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

/// A Q4 block layout: an fp16 scale d at byte 0, 16 bytes of nibbles at `nibblesOffset` (low
/// nibbles are weights 0-15, high nibbles 16-31), and a per-block offset times Σx.
protocol Q4Layout {
  static var blockBytes: Int { get }
  static var nibblesOffset: Int { get }
  /// The block's factor of Σx, from the block at `block` with scale `d`.
  static func offset(_ block: UnsafeRawPointer, _ d: Float) -> Float
  /// The dot product from the nibble sum and the summed offset terms.
  static func combine(_ dot: Float, _ offsets: Float) -> Float
  /// Eight weights of the block at `block` from their nibbles `q` (as floats) and its scale `d`.
  static func value(_ q: SIMD8<Float>, _ d: SIMD8<Float>, _ block: UnsafeRawPointer) -> SIMD8<Float>
}

/// Q4_1 (20 bytes: d, m, 16 bytes of nibbles): weight = d·q + m, so the offset term is + m·Σx.
enum Q4_1Layout: Q4Layout {
  static var blockBytes: Int { 20 }
  static var nibblesOffset: Int { 4 }
  @inline(__always) static func offset(_ block: UnsafeRawPointer, _ d: Float) -> Float { QuantKernels.half(block, 2) }
  @inline(__always) static func combine(_ dot: Float, _ offsets: Float) -> Float { dot + offsets }
  @inline(__always) static func value(_ q: SIMD8<Float>, _ d: SIMD8<Float>, _ block: UnsafeRawPointer) -> SIMD8<Float> {
    d * q + SIMD8<Float>(repeating: QuantKernels.half(block, 2))
  }
}

/// Q4_0 (18 bytes: d, 16 bytes of nibbles): weight = d·(q - 8), so the offset term is - 8·d·Σx.
enum Q4_0Layout: Q4Layout {
  static var blockBytes: Int { 18 }
  static var nibblesOffset: Int { 2 }
  @inline(__always) static func offset(_ block: UnsafeRawPointer, _ d: Float) -> Float { 8 * d }
  @inline(__always) static func combine(_ dot: Float, _ offsets: Float) -> Float { dot - offsets }
  @inline(__always) static func value(_ q: SIMD8<Float>, _ d: SIMD8<Float>, _ block: UnsafeRawPointer) -> SIMD8<Float> {
    d * (q - 8)
  }
}
