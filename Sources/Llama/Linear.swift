import GGUF
import TensorCore

/// How a model keeps its frozen base weights in memory.
public enum BaseWeights: String, Sendable, CaseIterable {
  /// Every projection dequantized to fp32 at load: the fastest GEMMs, 4 bytes a weight.
  case fp32
  /// Projections and embeddings stay in their GGUF type (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, F16, BF16)
  /// and are dequantized tile by tile inside the matrix products: 0.56-2 bytes a weight.
  case quantized
  /// `quantized` when the fp32 weights would take more than `autoLimitBytes`, else `fp32`.
  case auto

  /// Above this size of fp32 projection and embedding weights, `auto` keeps them quantized.
  public static let autoLimitBytes = 2 << 30
}

/// A frozen linear layer y = x·Wᵀ (+ b). W is held in fp32 for the batched GEMM path, with its
/// rows optionally also in their GGUF block format for matrix-vector decoding; or, for
/// `BaseWeights.quantized`, only in the block format, dequantized one tile of rows at a time
/// inside each product (`dense` is then nil until something asks for `weight`).
public final class Linear: @unchecked Sendable {
  /// How `weight` is stored. Body layers keep Wᵀ (in, out): OpenBLAS's (noTrans, noTrans)
  /// GEMM is 4-7% faster on these shapes than (noTrans, trans). The tied LM head shares the
  /// embedding's (V, C) = (out, in) storage; a layer kept quantized materializes as (out, in).
  public enum Layout: Sendable { case outIn, inOut }

  /// A layer's weights as they were, for `restore`.
  public struct Snapshot: @unchecked Sendable {
    let dense: FloatBuffer?
    let quantized: QuantizedRows?
  }

  public let outFeatures: Int
  public let inFeatures: Int
  public let layout: Layout
  /// (out, in) or (in, out), see `layout`; nil while a quantized-only layer was never materialized.
  private var dense: FloatBuffer?
  /// (out)
  public let bias: FloatBuffer?
  /// The same rows in GGUF block format: for decoding, or the only copy of a quantized-only layer.
  /// Dropped once the fp32 weights change (e.g. a merged LoRA adapter), so both paths always
  /// compute the same function.
  public private(set) var quantized: QuantizedRows?

  /// At most this many rows go through the quantized matrix-vector kernel; more use GEMM.
  public static let matvecRowLimit = 4
  /// Output rows dequantized at once by the quantized-only GEMM path.
  static let tileRows = 128

  public init(weight: FloatBuffer, outFeatures: Int, inFeatures: Int, layout: Layout = .outIn,
              bias: FloatBuffer? = nil, quantized: QuantizedRows? = nil) {
    dense = weight; self.outFeatures = outFeatures; self.inFeatures = inFeatures; self.layout = layout
    self.bias = bias; self.quantized = quantized
  }

  /// A layer kept in block format only (`BaseWeights.quantized`).
  public init(quantizedOnly rows: QuantizedRows, bias: FloatBuffer? = nil) {
    dense = nil; outFeatures = rows.rows; inFeatures = rows.columns; layout = .outIn
    self.bias = bias; quantized = rows
  }

  /// Whether fp32 weights are in memory (always, unless the layer is quantized-only and nothing
  /// asked for `weight`).
  public var isMaterialized: Bool { dense != nil }

  /// The fp32 weights. A quantized-only layer dequantizes all its rows on first use and keeps
  /// them (e.g. to merge an adapter into them); `restore` of an earlier snapshot drops them again.
  public var weight: FloatBuffer {
    if let dense { return dense }
    let w = FloatBuffer(uninitializedCount: outFeatures * inFeatures)
    quantized!.dequantizeRows(0..<outFeatures, into: w.pointer)
    dense = w
    return w
  }

  /// Loads and row-concatenates tensors (e.g. q, k, v into one (Dq+2·Dkv, C) matrix, so one GEMM
  /// serves all three). Checks every shape against `rows` × `columns`.
  /// `rowOrder`, when given, lists for each output row the row of the concatenation it takes
  /// (the q/k permutation of `halvesRoPEArchitectures`), applied to weights, bias and blocks alike.
  /// With `keepQuantized` and tensors of one type `QuantizedRows` can hold, the layer keeps them
  /// in that type only.
  static func load(_ file: GGUFFile, names: [String], rows: [Int], columns: Int, biases: [String]? = nil,
                   rowOrder: [Int]? = nil, keepQuantized: Bool = false) throws(ModelError) -> Linear {
    var infos: [TensorInfo] = []
    for (name, r) in zip(names, rows) {
      guard let t = file.tensor(name) else { throw .gguf(.missingTensor(name)) }
      guard t.dimensions == [columns, r] else { throw .tensorShape(name: name, found: t.dimensions, expected: [columns, r]) }
      infos.append(t)
    }
    let total = rows.reduce(0, +)
    var b: FloatBuffer? = nil
    if let biases {
      let bb = FloatBuffer(count: total)
      var o = 0
      for (name, r) in zip(biases, rows) {
        guard let t = file.tensor(name) else { throw .gguf(.missingTensor(name)) }
        guard t.elementCount == r else { throw .tensorShape(name: name, found: t.dimensions, expected: [r]) }
        do { try file.dequantize(t, into: bb.pointer + o) } catch { throw .gguf(error) }
        o += r
      }
      if let order = rowOrder {
        let copy = Array(UnsafeBufferPointer(start: bb.pointer, count: total))
        for (to, from) in order.enumerated() { bb.pointer[to] = copy[from] }
      }
      b = bb
    }
    func blocks(_ supported: (GGMLType) -> Bool) -> QuantizedRows? {
      guard let first = infos.first, supported(first.type), infos.allSatisfy({ $0.type == first.type }) else { return nil }
      let q = QuantizedRows(type: first.type, columns: columns, parts: infos.map { file.rawData($0) })
      return rowOrder.map { q.reordered($0) } ?? q
    }
    if keepQuantized, let q = blocks(QuantizedRows.canHold) { return Linear(quantizedOnly: q, bias: b) }
    let rowMajor = FloatBuffer(count: total * columns)  // (out, in) as in the file
    var off = 0
    for t in infos {
      do { try file.dequantize(t, into: rowMajor.pointer + off) } catch { throw .gguf(error) }
      off += t.elementCount
    }
    if let order = rowOrder {
      let copy = FloatBuffer(count: total * columns)
      copy.pointer.update(from: rowMajor.pointer, count: total * columns)
      for (to, from) in order.enumerated() { (rowMajor.pointer + to * columns).update(from: copy.pointer + from * columns, count: columns) }
    }
    let w = FloatBuffer(count: total * columns)  // (in, out)
    Kernels.transpose(rowMajor.pointer, rows: total, cols: columns, into: w.pointer)
    return Linear(weight: w, outFeatures: total, inFeatures: columns, layout: .inOut, bias: b, quantized: blocks(QuantizedRows.supports))
  }

  /// Forget the quantized rows after `weight` was modified in place.
  public func weightsDidChange() {
    precondition(dense != nil, "weightsDidChange on a layer whose fp32 weights were never read")
    quantized = nil
  }

  /// The layer's weights as they are now: what `restore` puts back. A quantized-only layer's
  /// snapshot is its blocks (nothing is copied).
  public func snapshot() -> Snapshot {
    guard let dense else { return Snapshot(dense: nil, quantized: quantized) }
    let copy = FloatBuffer(uninitializedCount: dense.count)
    copy.pointer.update(from: dense.pointer, count: dense.count)
    return Snapshot(dense: copy, quantized: quantized)
  }

  /// Puts back a `snapshot` of this layer, bit for bit, with its quantized rows (a quantized-only
  /// layer drops the fp32 weights it materialized since).
  public func restore(_ saved: Snapshot) {
    if let s = saved.dense {
      precondition(s.count == outFeatures * inFeatures, "a snapshot of another layer")
      if let dense { dense.pointer.update(from: s.pointer, count: dense.count) } else { dense = s }
    } else {
      dense = nil
    }
    quantized = saved.quantized
  }

  /// out (in) = row `r` of W (the weights of output `r`).
  public func copyRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
    if let dense {
      switch layout {
      case .outIn: out.update(from: dense.pointer + r * inFeatures, count: inFeatures)
      case .inOut: for j in 0..<inFeatures { out[j] = dense.pointer[j * outFeatures + r] }
      }
    } else {
      quantized!.dequantizeRows(r..<(r + 1), into: out)
    }
  }

  /// y (n, out) [row stride ldy] = x (n, in) · Wᵀ (+ b), or y += … when `accumulate`.
  public func forward(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, accumulate: Bool = false) {
    let ldy = ldy ?? outFeatures
    if let q = quantized, n <= Self.matvecRowLimit, dense == nil || QuantizedRows.supports(q.type) {
      for r in 0..<n { q.matvec(x + r * inFeatures, y + r * ldy, accumulate: accumulate) }
    } else if let dense {
      switch layout {
      case .outIn:
        BLAS.gemm(.noTrans, .trans, m: n, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                  b: dense.pointer, ldb: inFeatures, beta: accumulate ? 1 : 0, c: y, ldc: ldy)
      case .inOut:
        BLAS.gemm(.noTrans, .noTrans, m: n, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                  b: dense.pointer, ldb: outFeatures, beta: accumulate ? 1 : 0, c: y, ldc: ldy)
      }
    } else {
      // Quantized-only: y[:, tile] = x · W[tile]ᵀ, one tile of output rows dequantized at a time.
      let q = quantized!, t = Self.tileRows
      withUnsafeTemporaryAllocation(of: Float.self, capacity: min(t, outFeatures) * inFeatures) { tile in
        for start in stride(from: 0, to: outFeatures, by: t) {
          let m = min(t, outFeatures - start)
          q.dequantizeRows(start..<(start + m), into: tile.baseAddress!)
          BLAS.gemm(.noTrans, .trans, m: n, n: m, k: inFeatures, a: x, lda: inFeatures,
                    b: tile.baseAddress!, ldb: inFeatures, beta: accumulate ? 1 : 0, c: y + start, ldc: ldy)
        }
      }
    }
    if let bias {
      for r in 0..<n { Vector.add(bias.pointer, into: y + r * ldy, outFeatures) }
    }
  }

  /// dX (n, in) = dY (n, out) · W, the input gradient of a frozen layer (no weight gradient).
  /// `dY` rows have stride `lddy` (default out).
  public func backwardInput(_ dY: UnsafePointer<Float>, rows n: Int, lddy: Int? = nil, into dX: UnsafeMutablePointer<Float>) {
    let lddy = lddy ?? outFeatures
    if let dense {
      switch layout {
      case .inOut:  // W stored (in, out): dX = dY · Wᵀ_stored
        BLAS.gemm(.noTrans, .trans, m: n, n: inFeatures, k: outFeatures, a: dY, lda: lddy,
                  b: dense.pointer, ldb: outFeatures, c: dX, ldc: inFeatures)
      case .outIn:  // W stored (out, in): dX = dY · W
        BLAS.gemm(.noTrans, .noTrans, m: n, n: inFeatures, k: outFeatures, a: dY, lda: lddy,
                  b: dense.pointer, ldb: inFeatures, c: dX, ldc: inFeatures)
      }
      return
    }
    // dX = Σ_tiles dY[:, tile] · W[tile].
    let q = quantized!, t = Self.tileRows
    withUnsafeTemporaryAllocation(of: Float.self, capacity: min(t, outFeatures) * inFeatures) { tile in
      for start in stride(from: 0, to: outFeatures, by: t) {
        let m = min(t, outFeatures - start)
        q.dequantizeRows(start..<(start + m), into: tile.baseAddress!)
        BLAS.gemm(.noTrans, .noTrans, m: n, n: inFeatures, k: m, a: dY + start, lda: lddy,
                  b: tile.baseAddress!, ldb: inFeatures, beta: start == 0 ? 0 : 1, c: dX, ldc: inFeatures)
      }
    }
  }
}
