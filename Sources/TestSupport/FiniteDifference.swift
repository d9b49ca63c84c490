import TensorCore

/// Central-difference gradient checks for the explicit (llm.c style) backward kernels
/// (DESIGN.md §4.8: every gradient is proven against a numeric reference with a named tolerance).
///
/// How to get honest numbers out of fp32 kernels: make the checked function a scalar loss with
/// O(1) gradients, e.g. L = Σ c_i·out_i with fixed random c (then ∂L/∂out = c is the `dout` fed
/// to the backward), and accumulate L in Double. The numeric gradient then has two error terms:
/// truncation, h²/6·|f'''| (≈ 2e-5 for h = 1e-2 and smooth O(1) functions), and the fp32
/// rounding noise of the forward, ≈ ε·|out|·√n / (2h) (≈ 3e-6·√n for h = 1e-2, ε = 6e-8), so a
/// relative tolerance around 1e-3 separates a correct backward from a wrong one by orders of
/// magnitude on small shapes.
public enum FiniteDifference {
  /// Numerical gradient of a scalar function f(x) at x by central differences in Double-accumulated fp32 (step h), for the given indices (all when nil).
  ///
  /// x ± h is rounded to Float; the quotient divides by the step actually taken
  /// (Double(x + h) − Double(x − h)), not by 2h, so the rounding of the probe points adds no error.
  public static func gradient(
    of f: ([Float]) -> Double, at x: [Float], step h: Float = 1e-2, indices: [Int]? = nil
  ) -> [Int: Double] {
    var probe = x
    var result: [Int: Double] = [:]
    for i in indices ?? Array(x.indices) {
      precondition(x.indices.contains(i), "index \(i) outside 0..<\(x.count)")
      let x0 = x[i], plus = x0 + h, minus = x0 - h
      probe[i] = plus
      let fPlus = f(probe)
      probe[i] = minus
      let fMinus = f(probe)
      probe[i] = x0
      result[i] = (fPlus - fMinus) / (Double(plus) - Double(minus))
    }
    return result
  }

  /// max |analytic - numeric| / max(max |numeric|, floor) over the checked indices
  ///
  /// Infinite when any compared value is NaN or infinite, so a broken kernel can never pass.
  public static func relativeError(analytic: [Float], numeric: [Int: Double], floor: Double = 1e-3) -> Double {
    var worst = 0.0, scale = 0.0
    for (i, n) in numeric {
      precondition(analytic.indices.contains(i), "index \(i) outside 0..<\(analytic.count)")
      let a = Double(analytic[i])
      if !a.isFinite || !n.isFinite { return .infinity }
      worst = max(worst, abs(a - n))
      scale = max(scale, abs(n))
    }
    return worst / max(scale, floor)
  }

  /// `count` distinct indices of 0..<n chosen with a seeded generator (all of them when
  /// count >= n), sorted: a reproducible sample when checking every input would be too slow.
  public static func sampleIndices(_ count: Int, of n: Int, seed: UInt64) -> [Int] {
    if count >= n { return Array(0..<n) }
    var rng = SeededRNG(seed: seed)
    var all = Array(0..<n)
    for k in 0..<count { all.swapAt(k, k + Int(rng.next() % UInt64(n - k))) }
    return all[0..<count].sorted()
  }
}
