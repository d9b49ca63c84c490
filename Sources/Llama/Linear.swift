import GGUF
import TensorCore

/// A frozen linear layer y = x·Wᵀ (+ b), with W in fp32 for the batched GEMM path and
/// optionally its rows in their GGUF block format for matrix-vector decoding.
public final class Linear: @unchecked Sendable {
  /// How `weight` is stored. Body layers keep Wᵀ (in, out): OpenBLAS's (noTrans, noTrans)
  /// GEMM is 4-7% faster on these shapes than (noTrans, trans). The tied LM head shares the
  /// embedding's (V, C) = (out, in) storage.
  public enum Layout: Sendable { case outIn, inOut }

  public let outFeatures: Int
  public let inFeatures: Int
  public let layout: Layout
  /// (out, in) or (in, out), see `layout`
  public let weight: FloatBuffer
  /// (out)
  public let bias: FloatBuffer?
  /// The same rows in GGUF block format for decoding; dropped once the fp32 weights change
  /// (e.g. a merged LoRA adapter), so both paths always compute the same function.
  public private(set) var quantized: QuantizedRows?

  /// At most this many rows go through the quantized matrix-vector kernel; more use GEMM.
  public static let matvecRowLimit = 4

  public init(weight: FloatBuffer, outFeatures: Int, inFeatures: Int, layout: Layout = .outIn,
              bias: FloatBuffer? = nil, quantized: QuantizedRows? = nil) {
    self.weight = weight; self.outFeatures = outFeatures; self.inFeatures = inFeatures; self.layout = layout
    self.bias = bias; self.quantized = quantized
  }

  /// Loads and row-concatenates tensors (e.g. q, k, v into one (Dq+2·Dkv, C) matrix, so one GEMM
  /// serves all three). Checks every shape against `rows` × `columns`.
  /// `rowOrder`, when given, lists for each output row the row of the concatenation it takes
  /// (the q/k permutation of `halvesRoPEArchitectures`), applied to weights, bias and blocks alike.
  static func load(_ file: GGUFFile, names: [String], rows: [Int], columns: Int, biases: [String]? = nil,
                   rowOrder: [Int]? = nil) throws(ModelError) -> Linear {
    var infos: [TensorInfo] = []
    for (name, r) in zip(names, rows) {
      guard let t = file.tensor(name) else { throw .gguf(.missingTensor(name)) }
      guard t.dimensions == [columns, r] else { throw .tensorShape(name: name, found: t.dimensions, expected: [columns, r]) }
      infos.append(t)
    }
    let total = rows.reduce(0, +)
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
    var quant: QuantizedRows? = nil
    if let first = infos.first, QuantizedRows.supports(first.type), infos.allSatisfy({ $0.type == first.type }) {
      quant = QuantizedRows(type: first.type, columns: columns, parts: infos.map { file.rawData($0) })
      if let order = rowOrder { quant = quant?.reordered(order) }
    }
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
    return Linear(weight: w, outFeatures: total, inFeatures: columns, layout: .inOut, bias: b, quantized: quant)
  }

  /// Forget the quantized rows after `weight` was modified in place.
  public func weightsDidChange() { quantized = nil }

  /// The layer's weights as they are now: what `restore` puts back.
  public func snapshot() -> (weight: FloatBuffer, quantized: QuantizedRows?) {
    let copy = FloatBuffer(uninitializedCount: weight.count)
    copy.pointer.update(from: weight.pointer, count: weight.count)
    return (copy, quantized)
  }

  /// Puts back a `snapshot` of this layer, bit for bit, with its quantized rows.
  public func restore(_ saved: (weight: FloatBuffer, quantized: QuantizedRows?)) {
    precondition(saved.weight.count == weight.count, "a snapshot of another layer")
    weight.pointer.update(from: saved.weight.pointer, count: weight.count)
    quantized = saved.quantized
  }

  /// y (n, out) [row stride ldy] = x (n, in) · Wᵀ (+ b), or y += … when `accumulate`.
  public func forward(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, accumulate: Bool = false) {
    let ldy = ldy ?? outFeatures
    if let q = quantized, n <= Self.matvecRowLimit {
      for r in 0..<n { q.matvec(x + r * inFeatures, y + r * ldy, accumulate: accumulate) }
    } else {
      switch layout {
      case .outIn:
        BLAS.gemm(.noTrans, .trans, m: n, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                  b: weight.pointer, ldb: inFeatures, beta: accumulate ? 1 : 0, c: y, ldc: ldy)
      case .inOut:
        BLAS.gemm(.noTrans, .noTrans, m: n, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                  b: weight.pointer, ldb: outFeatures, beta: accumulate ? 1 : 0, c: y, ldc: ldy)
      }
    }
    if let bias {
      for r in 0..<n { Vector.add(bias.pointer, into: y + r * ldy, outFeatures) }
    }
  }
}
