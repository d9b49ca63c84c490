import Foundation
import TensorCore
import Testing

/// Kernels against straightforward Double-precision references on seeded random inputs.
struct KernelTests {
  static func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = SeededRNG(seed: seed)
    return (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
  }

  @Test func expMatchesFoundationOverTheUsedRange() {
    var worst: Double = 0
    var x: Float = -87
    while x <= 88 {
      let v = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0123 })
      let e = Vector.exp8(v)
      for i in 0..<8 where v[i] <= 88 {
        let ref = Foundation.exp(Double(v[i]))
        worst = max(worst, abs(Double(e[i]) - ref) / ref)
      }
      x += 0.37
    }
    #expect(worst < 5e-7, "relative error \(worst)")
    // Far below the range the result is (almost) zero, above it finite.
    #expect(Vector.exp8(SIMD8(repeating: -1000))[0] < 1e-37)
    #expect(Vector.exp8(SIMD8(repeating: 1000))[0].isFinite)
  }

  @Test func rmsnormMatchesReference() {
    let n = 5, c = 40
    let x = Self.random(n * c, seed: 1, scale: 3), w = Self.random(c, seed: 2)
    var out = [Float](repeating: 0, count: n * c), rstd = [Float](repeating: 0, count: n)
    Kernels.rmsnorm(x: x, weight: w, out: &out, rows: n, cols: c, eps: 1e-5, rstd: &rstd)
    for r in 0..<n {
      let ms = (0..<c).map { Double(x[r * c + $0]) * Double(x[r * c + $0]) }.reduce(0, +) / Double(c)
      let inv = 1 / (ms + 1e-5).squareRoot()
      #expect(abs(Double(rstd[r]) - inv) <= 1e-6 * inv)
      for i in 0..<c { #expect(abs(Double(out[r * c + i]) - Double(x[r * c + i]) * inv * Double(w[i])) <= 1e-5) }
    }
  }

  @Test func ropeRotatesPairsAndInverts() {
    let table = Kernels.RopeTable(headDim: 8, base: 10000, maxPositions: 16)
    let heads = 2, n = 3
    let x = Self.random(n * heads * 8, seed: 3)
    var y = x
    let positions: [Int32] = [0, 5, 15]
    Kernels.rope(&y, rows: n, heads: heads, positions: positions, table: table)
    for r in 0..<n {
      for h in 0..<heads {
        for i in 0..<4 {
          let theta = Double(positions[r]) * pow(10000, -Double(2 * i) / 8)
          let a = Double(x[(r * heads + h) * 8 + 2 * i]), b = Double(x[(r * heads + h) * 8 + 2 * i + 1])
          #expect(abs(Double(y[(r * heads + h) * 8 + 2 * i]) - (a * cos(theta) - b * sin(theta))) < 1e-5)
          #expect(abs(Double(y[(r * heads + h) * 8 + 2 * i + 1]) - (a * sin(theta) + b * cos(theta))) < 1e-5)
        }
      }
    }
    Kernels.rope(&y, rows: n, heads: heads, positions: positions, table: table, inverse: true)
    for i in 0..<x.count { #expect(abs(y[i] - x[i]) < 1e-5) }
  }

  @Test func swigluMatchesReference() {
    let n = 3, f = 21
    let gu = Self.random(n * 2 * f, seed: 4, scale: 6)
    var out = [Float](repeating: 0, count: n * f)
    Kernels.swiglu(gateUp: gu, out: &out, rows: n, hidden: f)
    for r in 0..<n {
      for i in 0..<f {
        let g = Double(gu[r * 2 * f + i]), u = Double(gu[r * 2 * f + f + i])
        #expect(abs(Double(out[r * f + i]) - g / (1 + exp(-g)) * u) < 1e-5)
      }
    }
  }

  /// Causal GQA attention on packed sequences of different lengths, for head dims 64 (the
  /// blocked fast path) and 16 (the general path), against a Double reference.
  @Test(arguments: [64, 16])
  func attentionMatchesReference(headDim d: Int) {
    let heads = 4, kvHeads = 2, lengths = [1, 9, 40]
    let n = lengths.reduce(0, +)
    let qStride = heads * d, kvStride = kvHeads * d
    let q = Self.random(n * qStride, seed: 5), k = Self.random(n * kvStride, seed: 6), v = Self.random(n * kvStride, seed: 7)
    var out = [Float](repeating: 0, count: n * qStride)
    var spans: [Kernels.AttentionSpan] = []
    var start = 0
    k.withUnsafeBufferPointer { kb in
      v.withUnsafeBufferPointer { vb in
        for len in lengths {
          spans.append(.init(queryStart: start, queryCount: len, keys: kb.baseAddress! + start * kvStride,
                             values: vb.baseAddress! + start * kvStride, keyCount: len))
          start += len
        }
        Kernels.attention(q: q, qStride: qStride, kvStride: kvStride, out: &out, outStride: qStride,
                          spans: spans, heads: heads, kvHeads: kvHeads, headDim: d)
      }
    }
    var worst: Double = 0
    start = 0
    for len in lengths {
      for i in 0..<len {
        for h in 0..<heads {
          let kvh = h / (heads / kvHeads)
          var scores = (0...i).map { j -> Double in
            (0..<d).map { Double(q[(start + i) * qStride + h * d + $0]) * Double(k[(start + j) * kvStride + kvh * d + $0]) }
              .reduce(0, +) / Double(d).squareRoot()
          }
          let mx = scores.max()!
          scores = scores.map { exp($0 - mx) }
          let z = scores.reduce(0, +)
          for c in 0..<d {
            let ref = (0...i).map { scores[$0] / z * Double(v[(start + $0) * kvStride + kvh * d + c]) }.reduce(0, +)
            worst = max(worst, abs(ref - Double(out[(start + i) * qStride + h * d + c])))
          }
        }
      }
      start += len
    }
    #expect(worst < 1e-5, "max abs error \(worst)")
  }

  @Test func gemmLayoutsAgree() {
    let m = 7, n = 5, k = 9
    let a = Self.random(m * k, seed: 8), w = Self.random(n * k, seed: 9)
    var wt = [Float](repeating: 0, count: k * n)
    Kernels.transpose(w, rows: n, cols: k, into: &wt)
    var c1 = [Float](repeating: 0, count: m * n), c2 = c1
    BLAS.gemm(.noTrans, .trans, m: m, n: n, k: k, a: a, lda: k, b: w, ldb: k, c: &c1, ldc: n)
    BLAS.gemm(.noTrans, .noTrans, m: m, n: n, k: k, a: a, lda: k, b: wt, ldb: n, c: &c2, ldc: n)
    for i in 0..<m {
      for j in 0..<n {
        let ref = (0..<k).map { Double(a[i * k + $0]) * Double(w[j * k + $0]) }.reduce(0, +)
        #expect(abs(Double(c1[i * n + j]) - ref) < 1e-5)
        #expect(abs(Double(c2[i * n + j]) - ref) < 1e-5)
      }
    }
  }

  @Test func blasRunsOptimizedKernels() {
    // Pitfall 1 of DESIGN.md §5: never the SSE3 fallback on a CPU with AVX2.
    if CPUFeatures.flags.contains("avx2") { #expect(BLAS.coreName.lowercased() != "prescott") }
  }

  @Test func poolRunsEveryIndexOnce() {
    let n = 1000
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: n)
    counts.initialize(repeating: 0, count: n)
    defer { counts.deallocate() }
    let p = SendablePointer(counts)
    for _ in 0..<20 { WorkerPool.shared.parallelFor(n) { i in p[i] += 1 } }
    #expect((0..<n).allSatisfy { counts[$0] == 20 })
  }

  @Test func seededRNGIsReproducible() {
    var a = SeededRNG(seed: 42), b = SeededRNG(seed: 42), c = SeededRNG(seed: 43)
    let xa = (0..<5).map { _ in a.next() }, xb = (0..<5).map { _ in b.next() }, xc = (0..<5).map { _ in c.next() }
    #expect(xa == xb)
    #expect(xa != xc)
  }

  /// The checkpoint format `{"state": [4 words]}`, and xoshiro256**'s known outputs from the
  /// state (1, 2, 3, 4): 11520, 0, 1509978240, 1215971899390074240 (the reference C code).
  @Test func seededRNGDecodesTheCheckpointFormatAndFollowsTheReference() throws {
    var rng = try JSONDecoder().decode(SeededRNG.self, from: Data(#"{"state":[1,2,3,4]}"#.utf8))
    #expect(rng.state == [1, 2, 3, 4])
    #expect(String(data: try JSONEncoder().encode(rng), encoding: .utf8) == #"{"state":[1,2,3,4]}"#)
    #expect((0..<4).map { _ in rng.next() } == [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240])
    for bad in [#"{"state":[0,0,0,0]}"#, #"{"state":[1,2,3]}"#, #"{"state":[1,2,3,4,5]}"#] {
      #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode(SeededRNG.self, from: Data(bad.utf8)) }
    }
  }

  /// The SIMD loops give the bits of the scalar loops (no fused multiply-add), tails included.
  @Test(arguments: [13, 64, 7])
  func vectorProductsMatchTheScalarLoopBitForBit(n: Int) {
    var rng = SeededRNG(seed: UInt64(n))
    let x = (0..<n).map { _ in rng.nextFloat() * 2 - 1 }, y = (0..<n).map { _ in rng.nextFloat() * 3 }
    let z0 = (0..<n).map { _ in rng.nextFloat() - 0.5 }
    var product = [Float](repeating: .nan, count: n), sum = z0
    Vector.multiply(x, y, into: &product, n)
    Vector.addProduct(x, y, into: &sum, n)
    for i in 0..<n {
      #expect(product[i].bitPattern == (x[i] * y[i]).bitPattern)
      var scalar = z0[i]
      scalar += x[i] * y[i]
      #expect(sum[i].bitPattern == scalar.bitPattern)
    }
  }
}
