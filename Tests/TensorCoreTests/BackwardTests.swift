import Foundation
import TensorCore
import TestSupport
import Testing

/// The backward kernels against central finite differences of the forward kernels, on small
/// seeded shapes, plus hand-computed and Double-reference cases. Every checked loss has the form
/// L = Σ c_i·out_i with fixed random c accumulated in Double, so `dout = c` and the numeric
/// gradient carries only fp32 rounding noise (see `FiniteDifference`).
struct BackwardTests {
  /// Relative tolerance of analytic vs numeric gradients (h = 1e-2): a correct kernel lands
  /// around 1e-5 on these shapes, a wrong term in a formula at 1e-2 or more.
  static let gradientTolerance = 1e-3
  /// Absolute tolerance of fp32 kernels against Double references of O(1) values.
  static let referenceTolerance: Float = 2e-5

  static func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = SeededRNG(seed: seed)
    return (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
  }

  /// Σ c_i·out_i in Double.
  static func weightedSum(_ c: [Float], _ out: [Float]) -> Double {
    var s = 0.0
    for i in 0..<c.count { s += Double(c[i]) * Double(out[i]) }
    return s
  }

  // MARK: RMSNorm

  /// dx and dweight accumulate (`+=`) onto what the buffers held; two row blocks (35 rows)
  /// exercise the blockwise dweight reduction, 29 columns the SIMD tails.
  @Test func rmsnormBackwardMatchesFiniteDifferences() {
    let n = 35, c = 29, eps: Float = 1e-5
    let x = Self.random(n * c, seed: 11, scale: 2), w = Self.random(c, seed: 12, scale: 1.5)
    let cw = Self.random(n * c, seed: 13)
    func loss(_ x: [Float], _ w: [Float]) -> Double {
      var out = [Float](repeating: 0, count: n * c)
      Kernels.rmsnorm(x: x, weight: w, out: &out, rows: n, cols: c, eps: eps)
      return Self.weightedSum(cw, out)
    }
    var rstd = [Float](repeating: 0, count: n), out = [Float](repeating: 0, count: n * c)
    Kernels.rmsnorm(x: x, weight: w, out: &out, rows: n, cols: c, eps: eps, rstd: &rstd)
    let dxBase = Self.random(n * c, seed: 14), dwBase = Self.random(c, seed: 15)
    var dx = dxBase, dw = dwBase
    Kernels.rmsnormBackward(dout: cw, x: x, weight: w, rstd: rstd, dx: &dx, dweight: &dw, rows: n, cols: c)
    let gx = zip(dx, dxBase).map { $0 - $1 }, gw = zip(dw, dwBase).map { $0 - $1 }

    let numX = FiniteDifference.gradient(of: { loss($0, w) }, at: x)
    let numW = FiniteDifference.gradient(of: { loss(x, $0) }, at: w)
    let errX = FiniteDifference.relativeError(analytic: gx, numeric: numX)
    let errW = FiniteDifference.relativeError(analytic: gw, numeric: numW)
    #expect(errX < Self.gradientTolerance, "dx relative error \(errX)")
    #expect(errW < Self.gradientTolerance, "dweight relative error \(errW)")

    // Without dweight, dx is the same and nothing else is written.
    var dx2 = dxBase
    Kernels.rmsnormBackward(dout: cw, x: x, weight: w, rstd: rstd, dx: &dx2, dweight: nil, rows: n, cols: c)
    #expect(dx2 == dx)
  }

  // MARK: SwiGLU

  @Test func swigluBackwardMatchesFiniteDifferences() {
    let n = 3, f = 21
    let gu = Self.random(n * 2 * f, seed: 21, scale: 4), cw = Self.random(n * f, seed: 22)
    func loss(_ gu: [Float]) -> Double {
      var out = [Float](repeating: 0, count: n * f)
      Kernels.swiglu(gateUp: gu, out: &out, rows: n, hidden: f)
      return Self.weightedSum(cw, out)
    }
    var dgu = [Float](repeating: .nan, count: n * 2 * f)  // overwritten, never read
    Kernels.swigluBackward(dout: cw, gateUp: gu, dGateUp: &dgu, rows: n, hidden: f)
    let err = FiniteDifference.relativeError(analytic: dgu, numeric: FiniteDifference.gradient(of: loss, at: gu))
    #expect(err < Self.gradientTolerance, "relative error \(err)")
  }

  /// Saturated gates, in the SIMD body (first 8 columns) and the scalar tail (last 4): finite,
  /// and equal to the Double formula (σ → 0 or 1).
  @Test func swigluBackwardIsFiniteForLargeGates() {
    let f = 12
    let g: [Float] = [1000, -1000, 120, -120, 88, -88, 30, -30, 1000, -1000, -89, 0]
    let u = Self.random(f, seed: 23, scale: 3), d = Self.random(f, seed: 24, scale: 2)
    var dgu = [Float](repeating: .nan, count: 2 * f)
    Kernels.swigluBackward(dout: d, gateUp: g + u, dGateUp: &dgu, rows: 1, hidden: f)
    for i in 0..<f {
      let gi = Double(g[i]), sig = 1 / (1 + exp(-gi))
      let dg = Double(d[i]) * Double(u[i]) * (sig + gi * sig * (1 - sig)), du = Double(d[i]) * gi * sig
      #expect(dgu[i].isFinite && dgu[f + i].isFinite, "column \(i): \(dgu[i]), \(dgu[f + i])")
      #expect(abs(Double(dgu[i]) - dg) <= 1e-5 * max(1, abs(dg)), "dg[\(i)] \(dgu[i]) vs \(dg)")
      #expect(abs(Double(dgu[f + i]) - du) <= 1e-5 * max(1, abs(du)), "du[\(i)] \(dgu[f + i]) vs \(du)")
    }
  }

  // MARK: Cross-entropy

  /// Worked by hand: row 0 logits (1, 2, 3), target 2: softmax (0.09003057, 0.24472847, 0.66524096),
  /// loss log(e¹ + e² + e³) − 3 = 0.40760596. Row 1 (0, 0, 0), target 0, weight 0.5: loss log 3 =
  /// 1.09861229, dlogits 0.5·(1/3 − 1, 1/3, 1/3). Row 2 masked (weight 0, target −1).
  /// Total 0.40760596 + 0.5·1.09861229 = 0.95691211.
  @Test func crossEntropyMatchesHandComputedCase() {
    var logits: [Float] = [1, 2, 3, 0, 0, 0, 5, -2, 7]
    let targets: [Int32] = [2, 0, -1], weights: [Float] = [1, 0.5, 0]
    var losses = [Float](repeating: .nan, count: 3)
    let total = Kernels.crossEntropy(logits: &logits, targets: targets, rowWeight: weights, rows: 3, vocab: 3, losses: &losses)
    #expect(abs(total - 0.956_912_11) < 1e-6, "total \(total)")
    let expectedLosses: [Float] = [0.407_605_96, 1.098_612_29, 0]
    let expected: [Float] = [0.090_030_57, 0.244_728_47, -0.334_759_04, -0.333_333_33, 0.166_666_67, 0.166_666_67, 0, 0, 0]
    #expect(Closeness.maxAbsDiff(losses, expectedLosses) < 1e-6, "losses \(losses)")
    #expect(Closeness.maxAbsDiff(logits, expected) < 1e-6, "dlogits \(logits)")
    #expect(logits[6..<9].allSatisfy { $0 == 0 })
  }

  /// Five rows over a vocabulary of 203 (SIMD bodies and tails), weights (1, 0.5, 0, 2, 1), a
  /// masked row with target −1 and a row shifted by +300 (only finite thanks to the max shift).
  @Test func crossEntropyMatchesFiniteDifferencesAndReference() {
    let n = 5, v = 203
    var x = Self.random(n * v, seed: 31, scale: 3)
    for i in 0..<v { x[3 * v + i] += 300 }
    let targets: [Int32] = [7, 202, -1, 0, 150], weights: [Float] = [1, 0.5, 0, 2, 1]
    func loss(_ logits: [Float]) -> Double {
      var l = logits
      return Kernels.crossEntropy(logits: &l, targets: targets, rowWeight: weights, rows: n, vocab: v, losses: nil)
    }
    var dl = x, losses = [Float](repeating: .nan, count: n)
    let total = Kernels.crossEntropy(logits: &dl, targets: targets, rowWeight: weights, rows: n, vocab: v, losses: &losses)

    // Double reference of the losses.
    var refTotal = 0.0
    for r in 0..<n where weights[r] != 0 {
      let row = x[(r * v)..<(r * v + v)].map(Double.init)
      let mx = row.max()!
      let lse = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
      let ref = lse - row[Int(targets[r])]
      #expect(abs(Double(losses[r]) - ref) < 1e-5 * max(1, ref), "row \(r): \(losses[r]) vs \(ref)")
      refTotal += Double(weights[r]) * ref
    }
    #expect(losses[2] == 0)
    #expect(abs(total - refTotal) < 1e-5 * refTotal, "total \(total) vs \(refTotal)")
    #expect(dl[(2 * v)..<(3 * v)].allSatisfy { $0 == 0 }, "masked row must have zero gradient")

    let numeric = FiniteDifference.gradient(of: loss, at: x, indices: FiniteDifference.sampleIndices(400, of: n * v, seed: 32)
      + targets.enumerated().compactMap { $1 >= 0 ? $0 * v + Int($1) : nil })
    let err = FiniteDifference.relativeError(analytic: dl, numeric: numeric)
    #expect(err < Self.gradientTolerance, "relative error \(err)")
  }

  // MARK: RoPE

  /// The rotation is orthogonal, so its backward is the inverse rotation applied to dout.
  @Test func ropeInverseIsTheBackward() {
    let n = 4, heads = 3, d = 8
    let table = Kernels.RopeTable(headDim: d, base: 10000, maxPositions: 16)
    let positions: [Int32] = [0, 3, 7, 15]
    let x = Self.random(n * heads * d, seed: 41, scale: 2), cw = Self.random(n * heads * d, seed: 42)
    func loss(_ x: [Float]) -> Double {
      var y = x
      Kernels.rope(&y, rows: n, heads: heads, positions: positions, table: table)
      return Self.weightedSum(cw, y)
    }
    var dx = cw
    Kernels.rope(&dx, rows: n, heads: heads, positions: positions, table: table, inverse: true)
    let err = FiniteDifference.relativeError(analytic: dx, numeric: FiniteDifference.gradient(of: loss, at: x))
    #expect(err < Self.gradientTolerance, "relative error \(err)")
  }

  // MARK: Attention

  /// Forward attention over the fused layout (q | k | v columns of qkv (N, rowStride)); out (N, outStride).
  static func attentionForward(
    _ qkv: [Float], rows n: Int, rowStride: Int, outStride: Int, sequences: [Range<Int>], heads: Int, kvHeads: Int, headDim d: Int
  ) -> [Float] {
    var out = [Float](repeating: 0, count: n * outStride)
    qkv.withUnsafeBufferPointer { qb in
      let base = qb.baseAddress!
      let spans = sequences.map { s in
        Kernels.AttentionSpan(queryStart: s.lowerBound, queryCount: s.count, keys: base + s.lowerBound * rowStride + heads * d,
                              values: base + s.lowerBound * rowStride + (heads + kvHeads) * d, keyCount: s.count)
      }
      Kernels.attention(q: base, qStride: rowStride, kvStride: rowStride, out: &out, outStride: outStride,
                        spans: spans, heads: heads, kvHeads: kvHeads, headDim: d)
    }
    return out
  }

  /// Three packed sequences (lengths 1, 5, 9) and two trailing rows outside every sequence;
  /// qkv and dOut rows carry padding columns. Head dim 8 takes the general path, 64 the
  /// register-blocked one (and the forward's blocked path for the 9-row sequence). dqkv starts
  /// as a sentinel that must survive in padding columns and uncovered rows.
  @Test(arguments: [8, 64])
  func attentionBackwardMatchesFiniteDifferences(headDim d: Int) {
    let heads = 4, kvHeads = 2, n = 17
    let sequences = [0..<1, 1..<6, 6..<15]
    let width = (heads + 2 * kvHeads) * d, rowStride = width + 3, outStride = heads * d + 5
    let qkv = Self.random(n * rowStride, seed: 51, scale: 1.5), cw = Self.random(n * outStride, seed: 52)
    func loss(_ qkv: [Float]) -> Double {
      Self.weightedSum(cw, Self.attentionForward(qkv, rows: n, rowStride: rowStride, outStride: outStride, sequences: sequences,
                                                 heads: heads, kvHeads: kvHeads, headDim: d))
    }
    let sentinel: Float = 7
    var dqkv = [Float](repeating: sentinel, count: n * rowStride)
    Kernels.attentionBackward(qkv: qkv, dqkv: &dqkv, rowStride: rowStride, dOut: cw, dOutStride: outStride,
                              sequences: sequences, heads: heads, kvHeads: kvHeads, headDim: d)
    for r in 0..<n {
      for col in 0..<rowStride where r >= 15 || col >= width {
        #expect(dqkv[r * rowStride + col] == sentinel, "row \(r) column \(col) must not be written")
      }
    }
    let covered = (0..<15).flatMap { r in (0..<width).map { r * rowStride + $0 } }
    let indices = FiniteDifference.sampleIndices(d == 64 ? 400 : covered.count, of: covered.count, seed: 53).map { covered[$0] }
    let err = FiniteDifference.relativeError(analytic: dqkv, numeric: FiniteDifference.gradient(of: loss, at: qkv, indices: indices))
    #expect(err < Self.gradientTolerance, "relative error \(err)")
  }

  /// A 130-row sequence (query blocks of 64, 64 and 2) beside a 3-row one, heads 6 over 2 KV
  /// heads, against the textbook backward in Double: proves the blocking across query tiles
  /// (and, with head dim 12, the column tail of the 8-wide tiles).
  @Test(arguments: [8, 12, 64])
  func attentionBackwardMatchesDoubleReferenceAcrossQueryBlocks(headDim d: Int) {
    let heads = 6, kvHeads = 2, group = heads / kvHeads
    let sequences = [0..<3, 3..<133], n = 133
    let rowStride = (heads + 2 * kvHeads) * d, outStride = heads * d
    let qkv = Self.random(n * rowStride, seed: 61, scale: 1.5), dOut = Self.random(n * outStride, seed: 62)
    var dqkv = [Float](repeating: .nan, count: n * rowStride)
    Kernels.attentionBackward(qkv: qkv, dqkv: &dqkv, rowStride: rowStride, dOut: dOut, dOutStride: outStride,
                              sequences: sequences, heads: heads, kvHeads: kvHeads, headDim: d)
    var ref = [Double](repeating: 0, count: n * rowStride)
    let scale = 1 / Double(d).squareRoot()
    func at(_ r: Int, _ c: Int) -> Double { Double(qkv[r * rowStride + c]) }
    for s in sequences {
      for h in 0..<heads {
        let qc = h * d, kc = (heads + h / group) * d, vc = (heads + kvHeads + h / group) * d
        for i in s {
          let keys = Array(s.lowerBound...i)
          var p = keys.map { j in (0..<d).reduce(0.0) { $0 + at(i, qc + $1) * at(j, kc + $1) } * scale }
          let mx = p.max()!
          p = p.map { exp($0 - mx) }
          let z = p.reduce(0, +)
          p = p.map { $0 / z }
          let dp = keys.map { j in (0..<d).reduce(0.0) { $0 + Double(dOut[i * outStride + qc + $1]) * at(j, vc + $1) } }
          let delta = zip(p, dp).reduce(0.0) { $0 + $1.0 * $1.1 }
          for (t, j) in keys.enumerated() {
            let g = p[t] * (dp[t] - delta) * scale
            for c in 0..<d {
              ref[i * rowStride + qc + c] += g * at(j, kc + c)
              ref[j * rowStride + kc + c] += g * at(i, qc + c)
              ref[j * rowStride + vc + c] += p[t] * Double(dOut[i * outStride + qc + c])
            }
          }
        }
      }
    }
    let scaleRef = ref.reduce(0) { max($0, abs($1)) }
    var worst = 0.0
    for i in 0..<ref.count {
      let e = abs(Double(dqkv[i]) - ref[i])
      worst = e.isNaN ? .infinity : max(worst, e)
    }
    #expect(worst / scaleRef < 1e-5, "relative error \(worst / scaleRef)")
  }
}

/// Timings of the backward kernels at training sizes (SmolLM2-135M): run with P2P_BENCH=1 on a
/// release build (`swift test -c release --filter BackwardBenchmarks`). Prints best-of-N.
struct BackwardBenchmarks {
  static func best(_ runs: Int, prepare: () -> Void = {}, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<runs {
      prepare()
      let t0 = ContinuousClock.now
      body()
      let e = ContinuousClock.now - t0
      best = min(best, Double(e.components.seconds) * 1e3 + Double(e.components.attoseconds) * 1e-15)
    }
    return best
  }

  @Test(.enabled(if: ProcessInfo.processInfo.environment["P2P_BENCH"] == "1", "set P2P_BENCH=1"))
  func backwardKernelTimings() {
    // Cross-entropy: 512 rows over the 49,152-token vocabulary.
    let rows = 512, vocab = 49152
    let logits0 = BackwardTests.random(rows * vocab, seed: 71, scale: 4)
    // A buffer of our own: assigning an Array would make the timed call copy it (copy on write).
    let logits = UnsafeMutablePointer<Float>.allocate(capacity: rows * vocab)
    defer { logits.deallocate() }
    let targets = (0..<rows).map { Int32($0 * 97 % vocab) }, weights = [Float](repeating: 1, count: rows)
    let ce = Self.best(5, prepare: { logits.update(from: logits0, count: rows * vocab) }) {
      _ = Kernels.crossEntropy(logits: logits, targets: targets, rowWeight: weights, rows: rows, vocab: vocab, losses: nil)
    }
    // Attention: 8 sequences × 64 tokens, 9 heads over 3 KV heads, head dim 64.
    let heads = 9, kvHeads = 3, d = 64, n = 512
    let rowStride = (heads + 2 * kvHeads) * d
    let qkv = BackwardTests.random(n * rowStride, seed: 72), dOut = BackwardTests.random(n * heads * d, seed: 73)
    var dqkv = [Float](repeating: 0, count: n * rowStride)
    let sequences = (0..<8).map { ($0 * 64)..<($0 * 64 + 64) }
    let att = Self.best(20) {
      Kernels.attentionBackward(qkv: qkv, dqkv: &dqkv, rowStride: rowStride, dOut: dOut, dOutStride: heads * d,
                                sequences: sequences, heads: heads, kvHeads: kvHeads, headDim: d)
    }
    // RMSNorm (512, 576) and SwiGLU (512, 1536).
    let c = 576, f = 1536
    let x = BackwardTests.random(n * c, seed: 74), w = BackwardTests.random(c, seed: 75), dy = BackwardTests.random(n * c, seed: 76)
    let rstd = [Float](repeating: 0.7, count: n)
    var dx = [Float](repeating: 0, count: n * c), dw = [Float](repeating: 0, count: c)
    let rms = Self.best(20) {
      Kernels.rmsnormBackward(dout: dy, x: x, weight: w, rstd: rstd, dx: &dx, dweight: &dw, rows: n, cols: c)
    }
    let gu = BackwardTests.random(n * 2 * f, seed: 77, scale: 4), dh = BackwardTests.random(n * f, seed: 78)
    var dgu = [Float](repeating: 0, count: n * 2 * f)
    let swi = Self.best(20) { Kernels.swigluBackward(dout: dh, gateUp: gu, dGateUp: &dgu, rows: n, hidden: f) }
    print(String(format: "backward timings (threads %d): crossEntropy 512x49152 %.2f ms, attention 8x64 tok 9/3 heads D64 %.3f ms, "
                   + "rmsnorm 512x576 %.3f ms, swiglu 512x1536 %.3f ms", WorkerPool.shared.threads, ce, att, rms, swi))
    #expect(ce.isFinite && att.isFinite)
  }
}
