import TensorCore

/// Gradient clipping by the global L2 norm over every gradient buffer, with the semantics of
/// PyTorch's `torch.nn.utils.clip_grad_norm_` (norm type 2):
///
///     total = ‖(g₁, g₂, …)‖₂
///     scale = maxNorm / (total + 1e-6)
///     g ← g · scale            only when scale < 1
///
/// The sum of squares is accumulated in Double over all buffers at once (PyTorch takes the norm
/// of per-tensor Float32 norms), so the result is at least as accurate as the reference.
///
/// One deliberate difference: when the norm is not finite (an overflow or a NaN gradient),
/// PyTorch multiplies every gradient by NaN or 0; here the gradients are left untouched and the
/// non-finite norm is returned, so the caller can skip the step and report it.
public enum GradientClipping {
  /// PyTorch's guard against division by zero in the clip coefficient.
  public static let epsilon: Double = 1e-6

  /// The global L2 norm of all the buffers together.
  public static func globalNorm(_ buffers: [UnsafeBufferPointer<Float>]) -> Double {
    var sum: Double = 0
    for b in buffers { sum += sumOfSquares(b) }
    return sum.squareRoot()
  }

  /// The global L2 norm of all the buffers together.
  public static func globalNorm(_ buffers: [FloatBuffer]) -> Double {
    globalNorm(buffers.map { UnsafeBufferPointer(start: $0.pointer, count: $0.count) })
  }

  /// Scales the gradients so that their global L2 norm is at most `maxNorm` (> 0) and returns
  /// the norm before clipping.
  @discardableResult
  public static func clip(_ buffers: [UnsafeMutableBufferPointer<Float>], maxNorm: Float) -> Double {
    precondition(maxNorm > 0, "GradientClipping.clip: maxNorm must be > 0 (validate the configuration first)")
    let total = globalNorm(buffers.map { UnsafeBufferPointer($0) })
    guard total.isFinite else { return total }
    let scale = Double(maxNorm) / (total + epsilon)
    guard scale < 1 else { return total }
    let factor = Float(scale)
    for b in buffers { scaleInPlace(b, by: factor) }
    return total
  }

  /// Scales the gradients so that their global L2 norm is at most `maxNorm` (> 0) and returns
  /// the norm before clipping.
  @discardableResult
  public static func clip(_ buffers: [FloatBuffer], maxNorm: Float) -> Double {
    clip(buffers.map { UnsafeMutableBufferPointer(start: $0.pointer, count: $0.count) }, maxNorm: maxNorm)
  }

  /// Σ x² in Double with eight independent accumulators (Swift does not reassociate floating
  /// point sums, so one accumulator would serialise on the add latency).
  public static func sumOfSquares(_ b: UnsafeBufferPointer<Float>) -> Double {
    guard let p = b.baseAddress else { return 0 }
    let n = b.count
    var acc = SIMD8<Double>.zero
    var i = 0
    while i + 8 <= n {
      let x = SIMD8<Double>(
        Double(p[i]), Double(p[i + 1]), Double(p[i + 2]), Double(p[i + 3]),
        Double(p[i + 4]), Double(p[i + 5]), Double(p[i + 6]), Double(p[i + 7]))
      acc += x * x
      i += 8
    }
    var sum = acc.sum()
    while i < n {
      let x = Double(p[i])
      sum += x * x
      i += 1
    }
    return sum
  }

  /// b ← b · factor, 16 lanes at a time.
  public static func scaleInPlace(_ b: UnsafeMutableBufferPointer<Float>, by factor: Float) {
    guard let p = b.baseAddress else { return }
    let n = b.count
    let raw = UnsafeMutableRawPointer(p)
    var i = 0
    while i + 16 <= n {
      let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
      raw.storeBytes(of: x * factor, toByteOffset: i * 4, as: SIMD16<Float>.self)
      i += 16
    }
    while i < n {
      p[i] *= factor
      i += 1
    }
  }
}
