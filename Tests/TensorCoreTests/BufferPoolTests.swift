import TensorCore
import Testing

struct BufferPoolTests {
  @Test func capacitiesRoundUpByAtMostAnEighth() {
    for count in [1, 1000, 1024, 1025, 5000, 65_537, 1_000_001, 12_345_678] {
      let b = BufferPool().take(count)
      #expect(b.count == count && b.capacity >= count)
      #expect(count <= 1024 || Double(b.capacity) <= Double(count) * 1.125 + 1024)
    }
  }

  /// Passes of varying shapes (like packed training batches) must not grow the pool without
  /// bound: it settles at under three passes' worth of buffers at the largest shape and then stops
  /// growing (the exact-size pool it replaced held one set per distinct shape: ~100x here).
  @Test func varyingShapesReuseBuffers() {
    let pool = BufferPool()
    var rng = SeededRNG(seed: 1)
    let roles = [576, 1536, 192, 9 * 64]
    var peakPass = 0, cachedAt150 = 0
    for pass in 0..<300 {
      if pass == 150 { cachedAt150 = pool.cachedElements }
      let tokens = 600 + Int(rng.next() % 800)
      let sizes = (0..<30).flatMap { _ in roles.map { $0 * tokens } }
      peakPass = max(peakPass, sizes.reduce(0, +))
      let taken = sizes.map { pool.take($0) }
      for (b, s) in zip(taken, sizes) { #expect(b.count == s && b.capacity >= s) }
      pool.give(taken)
    }
    #expect(pool.cachedElements <= peakPass * 3)  // measured 2.7x
    #expect(Double(pool.cachedElements) <= Double(cachedAt150) * 1.05)
    let reused = pool.take(576 * 700)
    #expect(reused.capacity >= 576 * 700 && reused.count == 576 * 700)
  }
}
