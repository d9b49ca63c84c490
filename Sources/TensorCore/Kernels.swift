import Foundation

/// Forward kernels of the transformer block. Each documents the shapes of its buffers;
/// backward partners live beside them as training needs them. Row-parallel work goes through
/// `WorkerPool.shared` in chunks of whole rows.
public enum Kernels {
  // MARK: RMSNorm

  /// out (N, C) = x (N, C) / sqrt(mean(x²) + eps) · weight (C). `out` may alias `x`.
  /// `rstd` (N), when given, receives 1/sqrt(mean(x²)+eps) for the backward pass.
  public static func rmsnorm(
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
    rows n: Int, cols c: Int, eps: Float, rstd: UnsafeMutablePointer<Float>? = nil
  ) {
    let xs = SendablePointer(UnsafeMutablePointer(mutating: x)), ws = SendablePointer(UnsafeMutablePointer(mutating: weight))
    let os = SendablePointer(out), rs = rstd.map { SendablePointer($0) }
    let chunk = 32
    WorkerPool.shared.parallelFor((n + chunk - 1) / chunk) { block in
      for r in (block * chunk)..<min(n, block * chunk + chunk) {
        let xr = xs.p + r * c, orow = os.p + r * c
        let ss = Vector.dot(xr, xr, c)
        let inv = 1 / (ss / Float(c) + eps).squareRoot()
        rs?[r] = inv
        for i in 0..<c { orow[i] = xr[i] * inv * ws.p[i] }
      }
    }
  }

  // MARK: Per-head RMSNorm

  /// In place, per row r and head h of x (N rows of stride `rowStride`, each starting with `heads`
  /// heads of `headDim`): x[r, h] = x[r, h] / sqrt(mean(x[r, h]²) + eps) · weight (headDim).
  /// `rstd` (N, heads), when given, receives the 1/sqrt(...) for the backward pass.
  public static func headNorm(
    _ x: UnsafeMutablePointer<Float>, rows n: Int, rowStride: Int, heads: Int, headDim d: Int, weight: UnsafePointer<Float>,
    eps: Float, rstd: UnsafeMutablePointer<Float>? = nil
  ) {
    let xs = SendablePointer(x), ws = SendablePointer(UnsafeMutablePointer(mutating: weight)), rs = rstd.map { SendablePointer($0) }
    let chunk = 32
    WorkerPool.shared.parallelFor((n + chunk - 1) / chunk) { block in
      for r in (block * chunk)..<min(n, block * chunk + chunk) {
        for h in 0..<heads {
          let v = xs.p + r * rowStride + h * d
          let inv = 1 / (Vector.dot(v, v, d) / Float(d) + eps).squareRoot()
          rs?[r * heads + h] = inv
          for i in 0..<d { v[i] = v[i] * inv * ws.p[i] }
        }
      }
    }
  }

  // MARK: RoPE

  /// Rotary tables for `positions` 0..<maxPositions: cos/sin (maxPositions, headDim/2), with
  /// frequency base^(-2i/headDim) computed in Double then rounded, as transformers does in fp32.
  public struct RopeTable: Sendable {
    public let headDim: Int
    public let cos: [Float]
    public let sin: [Float]
    public let maxPositions: Int

    /// `factors` (headDim/2), when given, divide the frequencies (Llama 3's `rope_freqs`).
    public init(headDim: Int, base: Float, maxPositions: Int, factors: [Float]? = nil) {
      self.headDim = headDim
      self.maxPositions = maxPositions
      let half = headDim / 2
      var c = [Float](repeating: 0, count: maxPositions * half), s = c
      for i in 0..<half {
        // transformers: inv_freq = 1 / base^(arange(0, dim, 2).float() / dim) in fp32.
        let expo = Float(2 * i) / Float(headDim)
        var invFreq: Float = 1.0 / Foundation.pow(base, expo)
        if let factors { invFreq /= factors[i] }
        for p in 0..<maxPositions {
          let angle = Float(p) * invFreq
          c[p * half + i] = Foundation.cos(angle)
          s[p * half + i] = Foundation.sin(angle)
        }
      }
      cos = c; sin = s
    }
  }

  /// Rotates pairs (2i, 2i+1) of every head in place — the interleaved convention that is
  /// correct on GGUF's permuted q/k rows (DESIGN.md §3). x (N, heads, headDim) with row stride
  /// `rowStride` (default heads·headDim); positions (N), each below `table.maxPositions`.
  public static func rope(
    _ x: UnsafeMutablePointer<Float>, rows n: Int, heads: Int, rowStride: Int? = nil, positions: UnsafePointer<Int32>,
    table: RopeTable, inverse: Bool = false
  ) {
    let d = table.headDim, half = d / 2, stride = rowStride ?? heads * d
    let xs = SendablePointer(x), ps = SendablePointer(UnsafeMutablePointer(mutating: positions))
    table.cos.withUnsafeBufferPointer { cb in
      table.sin.withUnsafeBufferPointer { sb in
        let cp = SendablePointer(UnsafeMutablePointer(mutating: cb.baseAddress!))
        let sp = SendablePointer(UnsafeMutablePointer(mutating: sb.baseAddress!))
        let chunk = 32
        WorkerPool.shared.parallelFor((n + chunk - 1) / chunk) { block in
          for r in (block * chunk)..<min(n, block * chunk + chunk) {
            let pos = Int(ps[r])
            let cr = cp.p + pos * half, sr = sp.p + pos * half
            for h in 0..<heads {
              let v = xs.p + r * stride + h * d
              for i in 0..<half {
                let a = v[2 * i], b = v[2 * i + 1]
                let cs = cr[i], sn = inverse ? -sr[i] : sr[i]
                v[2 * i] = a * cs - b * sn
                v[2 * i + 1] = a * sn + b * cs
              }
            }
          }
        }
      }
    }
  }

  // MARK: Attention

  /// One sequence of a packed batch: its rows in the query buffer and its own keys/values
  /// (a slice of the fused qkv buffer, or a KV cache). Query row i (0-based in the sequence)
  /// sees keys 0 ... (keyCount - queryCount + i).
  public struct AttentionSpan: Sendable {
    public var queryStart: Int, queryCount: Int, keyCount: Int
    /// Row 0 of this sequence's keys and values (row stride `kvStride`).
    public var keys: SendablePointer<Float>, values: SendablePointer<Float>
    public init(queryStart: Int, queryCount: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, keyCount: Int) {
      self.queryStart = queryStart; self.queryCount = queryCount; self.keyCount = keyCount
      self.keys = SendablePointer(UnsafeMutablePointer(mutating: keys))
      self.values = SendablePointer(UnsafeMutablePointer(mutating: values))
    }
  }

  /// Causal grouped-query attention over packed sequences (no padding is ever computed).
  /// q (Nq, H, D) with row stride `qStride`; keys/values of each span (keyCount, Hkv, D) with
  /// row stride `kvStride`; out (Nq, H, D) with row stride `outStride`. Query head h uses KV
  /// head h / (H / Hkv); scores are scaled by 1/sqrt(D).
  public static func attention(
    q: UnsafePointer<Float>, qStride: Int, kvStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int,
    spans: [AttentionSpan], heads: Int, kvHeads: Int, headDim d: Int
  ) {
    let group = heads / kvHeads
    let scale = 1 / Float(d).squareRoot()
    let qs = SendablePointer(UnsafeMutablePointer(mutating: q))
    let os = SendablePointer(out)
    // Tasks are (span, head, query block) so long sequences still balance over the pool.
    var tasks: [SIMD4<Int32>] = []
    let block = 32
    for (si, s) in spans.enumerated() {
      for h in 0..<heads {
        var q0 = 0
        while q0 < s.queryCount {
          tasks.append(SIMD4(Int32(si), Int32(h), Int32(q0), Int32(min(s.queryCount, q0 + block))))
          q0 += block
        }
      }
    }
    let maxKeys = spans.map(\.keyCount).max() ?? 0
    tasks.withUnsafeBufferPointer { tb in
      let tp = SendablePointer(UnsafeMutablePointer(mutating: tb.baseAddress!))
      WorkerPool.shared.parallelFor(tb.count) { ti in
        let t = tp[ti]
        let s = spans[Int(t[0])]
        let head = Int(t[1])
        let kvh = head / group
        let q0 = Int(t[2]), q1 = Int(t[3])
        if d == 64 && q1 - q0 >= 8 {
          attentionBlock64(q: qs.p, qStride: qStride, span: s, head: head, kvHead: kvh, kvStride: kvStride,
                           queries: q0..<q1, scale: scale, out: os.p, outStride: outStride)
          return
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: maxKeys + 8) { scores in
          let sc = scores.baseAddress!
          for i in q0..<q1 {
            let qrow = qs.p + (s.queryStart + i) * qStride + head * d
            let visible = s.keyCount - s.queryCount + i + 1
            var mx = -Float.infinity
            for j in 0..<visible {
              let x = Vector.dot(qrow, s.keys.p + j * kvStride + kvh * d, d) * scale
              sc[j] = x
              if x > mx { mx = x }
            }
            let sum = softmaxInPlace(sc, visible, max: mx)
            let orow = os.p + (s.queryStart + i) * outStride + head * d
            orow.update(repeating: 0, count: d)
            let inv = 1 / sum
            for j in 0..<visible {
              Vector.axpy(sc[j] * inv, s.values.p + j * kvStride + kvh * d, orow, d)
            }
          }
        }
      }
    }
  }

  /// Attention for a block of queries of one (sequence, head) with head dim 64: keys are first
  /// transposed into Kᵀ (64, keys) so 8 scores come from 64 broadcast FMAs (no horizontal sums),
  /// and each output row accumulates in 8 SIMD registers.
  @inline(__always)
  static func attentionBlock64(
    q: UnsafeMutablePointer<Float>, qStride: Int, span s: AttentionSpan, head: Int, kvHead: Int, kvStride: Int,
    queries: Range<Int>, scale: Float, out: UnsafeMutablePointer<Float>, outStride: Int
  ) {
    let d = 64
    let keys = s.keyCount - s.queryCount + queries.upperBound  // keys visible to the last query
    let padded = (keys + 7) & ~7
    withUnsafeTemporaryAllocation(of: Float.self, capacity: d * padded + padded + 8) { buf in
      let kt = buf.baseAddress!, sc = kt + d * padded
      for j in 0..<keys {
        let kr = s.keys.p + j * kvStride + kvHead * d
        for c in 0..<d { kt[c * padded + j] = kr[c] }
      }
      for j in keys..<padded { for c in 0..<d { kt[c * padded + j] = 0 } }
      let ktr = UnsafeRawPointer(kt), scr = UnsafeMutableRawPointer(sc)
      for i in queries {
        let qrow = q + (s.queryStart + i) * qStride + head * d
        let visible = s.keyCount - s.queryCount + i + 1
        var j = 0
        while j < visible {
          var acc = SIMD8<Float>()
          for c in 0..<d {
            acc.addProduct(SIMD8(repeating: qrow[c]), ktr.loadUnaligned(fromByteOffset: (c * padded + j) * 4, as: SIMD8<Float>.self))
          }
          scr.storeBytes(of: acc * scale, toByteOffset: j * 4, as: SIMD8<Float>.self)
          j += 8
        }
        var mx = sc[0]
        for jj in 1..<visible where sc[jj] > mx { mx = sc[jj] }
        let inv = 1 / softmaxInPlace(sc, visible, max: mx)
        var o0 = SIMD8<Float>(), o1 = SIMD8<Float>(), o2 = SIMD8<Float>(), o3 = SIMD8<Float>()
        var o4 = SIMD8<Float>(), o5 = SIMD8<Float>(), o6 = SIMD8<Float>(), o7 = SIMD8<Float>()
        for jj in 0..<visible {
          let p = SIMD8<Float>(repeating: sc[jj])
          let v = UnsafeRawPointer(s.values.p + jj * kvStride + kvHead * d)
          o0.addProduct(p, v.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self))
          o1.addProduct(p, v.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
          o2.addProduct(p, v.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
          o3.addProduct(p, v.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
          o4.addProduct(p, v.loadUnaligned(fromByteOffset: 128, as: SIMD8<Float>.self))
          o5.addProduct(p, v.loadUnaligned(fromByteOffset: 160, as: SIMD8<Float>.self))
          o6.addProduct(p, v.loadUnaligned(fromByteOffset: 192, as: SIMD8<Float>.self))
          o7.addProduct(p, v.loadUnaligned(fromByteOffset: 224, as: SIMD8<Float>.self))
        }
        let orow = UnsafeMutableRawPointer(out + (s.queryStart + i) * outStride + head * d)
        let iv = SIMD8<Float>(repeating: inv)
        orow.storeBytes(of: o0 * iv, toByteOffset: 0, as: SIMD8<Float>.self)
        orow.storeBytes(of: o1 * iv, toByteOffset: 32, as: SIMD8<Float>.self)
        orow.storeBytes(of: o2 * iv, toByteOffset: 64, as: SIMD8<Float>.self)
        orow.storeBytes(of: o3 * iv, toByteOffset: 96, as: SIMD8<Float>.self)
        orow.storeBytes(of: o4 * iv, toByteOffset: 128, as: SIMD8<Float>.self)
        orow.storeBytes(of: o5 * iv, toByteOffset: 160, as: SIMD8<Float>.self)
        orow.storeBytes(of: o6 * iv, toByteOffset: 192, as: SIMD8<Float>.self)
        orow.storeBytes(of: o7 * iv, toByteOffset: 224, as: SIMD8<Float>.self)
      }
    }
  }

  /// x[i] = exp(x[i] - max) in place; returns the sum.
  @inline(__always)
  public static func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int, max mx: Float) -> Float {
    var i = 0
    var acc = SIMD8<Float>()
    let raw = UnsafeMutableRawPointer(x)
    let m = SIMD8<Float>(repeating: mx)
    while i + 8 <= n {
      let e = Vector.exp8(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - m)
      raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
      acc += e
      i += 8
    }
    var s = acc.sum()
    while i < n { let e = Foundation.exp(x[i] - mx); x[i] = e; s += e; i += 1 }
    return s
  }

  // MARK: SwiGLU

  /// out (N, F) = silu(gateUp[:, :F]) · gateUp[:, F:], gateUp (N, 2F) holding [gate | up].
  public static func swiglu(gateUp: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows n: Int, hidden f: Int) {
    let gs = SendablePointer(UnsafeMutablePointer(mutating: gateUp)), os = SendablePointer(out)
    let chunk = max(1, 16384 / f)
    WorkerPool.shared.parallelFor((n + chunk - 1) / chunk) { block in
      for r in (block * chunk)..<min(n, block * chunk + chunk) {
        let g = UnsafeRawPointer(gs.p + r * 2 * f), u = UnsafeRawPointer(gs.p + r * 2 * f + f)
        let o = UnsafeMutableRawPointer(os.p + r * f)
        var i = 0
        while i + 8 <= f {
          let gv = g.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
          let uv = u.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
          let sig = 1 / (1 + Vector.exp8(-gv))
          o.storeBytes(of: gv * sig * uv, toByteOffset: i * 4, as: SIMD8<Float>.self)
          i += 8
        }
        while i < f {
          let gv = gs.p[r * 2 * f + i], uv = gs.p[r * 2 * f + f + i]
          os.p[r * f + i] = gv / (1 + Foundation.exp(-gv)) * uv
          i += 1
        }
      }
    }
  }
}

extension Kernels {
  /// out (cols, rows) = xᵀ for x (rows, cols), in cache-friendly 32 × 32 tiles.
  public static func transpose(_ x: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
    let tile = 32
    for r0 in stride(from: 0, to: rows, by: tile) {
      for c0 in stride(from: 0, to: cols, by: tile) {
        for r in r0..<min(rows, r0 + tile) {
          for c in c0..<min(cols, c0 + tile) { out[c * rows + r] = x[r * cols + c] }
        }
      }
    }
  }
}
