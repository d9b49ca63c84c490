import Foundation

/// Small SIMD vector primitives used by the kernels. Reductions use several SIMD accumulators:
/// Swift neither fuses `a*b+c` nor reassociates float sums on its own (DESIGN.md §5).
public enum Vector {
  /// Σ a[i]·b[i] over n elements.
  @inline(__always)
  public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 16 <= n {
      s0.addProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                    rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
      s1.addProduct(ra.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self),
                    rb.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
      i += 16
    }
    while i + 8 <= n {
      s0.addProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                    rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
      i += 8
    }
    var s = (s0 + s1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
  }

  /// y[i] += alpha·x[i] over n elements.
  @inline(__always)
  public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
    let va = SIMD8<Float>(repeating: alpha)
    while i + 8 <= n {
      var v = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
      v.addProduct(va, rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
      ry.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
      i += 8
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
  }

  /// y[i] += x[i] over n elements.
  @inline(__always)
  public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
    while i + 8 <= n {
      let v = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        + rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
      ry.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
      i += 8
    }
    while i < n { y[i] += x[i]; i += 1 }
  }

  /// z[i] = x[i]·y[i] over n elements.
  @inline(__always)
  public static func multiply(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>, _ n: Int) {
    product(x, y, into: z, n, accumulate: false)
  }

  /// z[i] += x[i]·y[i] over n elements, rounded after the product and after the sum (no fused
  /// multiply-add: the same bits as the scalar loop).
  @inline(__always)
  public static func addProduct(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>, _ n: Int) {
    product(x, y, into: z, n, accumulate: true)
  }

  /// z[i] = x[i]·y[i], or z[i] += x[i]·y[i] when `accumulate` (a constant at every call site, so
  /// inlining leaves one branch-free loop per caller; usable from inlined code in other modules
  /// like the two public entry points).
  @usableFromInline @inline(__always)
  static func product(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>, _ n: Int,
                      accumulate: Bool) {
    var i = 0
    let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y), rz = UnsafeMutableRawPointer(z)
    while i + 8 <= n {
      let p = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
      let v = accumulate ? rz.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + p : p
      rz.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
      i += 8
    }
    while i < n { z[i] = accumulate ? z[i] + x[i] * y[i] : x[i] * y[i]; i += 1 }
  }

  /// Fast exp: Cody-Waite range reduction and a degree-6 polynomial, relative error < 2e-7
  /// on [-87, 88]; inputs are clamped to that range (exp(-87) ≈ 1.6e-38 stands in for 0).
  /// Written without SIMD comparisons, which Swift 6.3 scalarizes lane by lane (DESIGN.md §5).
  @inline(__always)
  public static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let v = clamp(x, -87, 88)
    let log2e: Float = 1.442_695_04
    // n = round(v·log2e) via the 1.5·2^23 trick (exact for |n| < 2^22).
    let magic = SIMD8<Float>(repeating: 12_582_912.0)
    let t = v * log2e + magic
    let n = t - magic
    let r = v - n * 0.693_145_75 - n * 1.428_606_8e-6
    var p = SIMD8<Float>(repeating: 1.0 / 720.0)
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    // 2^n: the integer n sits in the low mantissa bits of t; shift it into the exponent.
    let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    let scale = unsafeBitCast(bits, to: SIMD8<Float>.self)
    return p * scale
  }

  /// |x| by clearing the sign bits.
  @inline(__always)
  public static func abs8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
  }

  /// min(max(x, lo), hi) lane-wise without comparisons, exact inside [lo, hi]:
  /// relu(a) = (a + |a|)/2 is exact (a + |a| is 0 or 2a), so max(x, lo) = x + relu(lo - x)
  /// returns x unchanged whenever x >= lo, and min(m, hi) = m - relu(m - hi) likewise.
  @inline(__always)
  public static func clamp(_ x: SIMD8<Float>, _ lo: Float, _ hi: Float) -> SIMD8<Float> {
    let l = SIMD8<Float>(repeating: lo), h = SIMD8<Float>(repeating: hi)
    let a = l - x
    let m = x + (a + abs8(a)) * 0.5
    let b = m - h
    return m - (b + abs8(b)) * 0.5
  }
}

extension Vector {
  /// Σ x[i] over 32 elements.
  @inline(__always)
  public static func sum32(_ x: UnsafePointer<Float>) -> Float {
    let r = UnsafeRawPointer(x)
    let a = r.loadUnaligned(as: SIMD8<Float>.self) + r.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
    let b = r.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self) + r.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
    return (a + b).sum()
  }
}

extension Vector {
  /// The offset of the first largest value (a NaN never wins; empty or all-NaN gives 0).
  /// Inlinable: the decoder calls it on every token's logits, and an unspecialised generic call
  /// across modules costs a third of decode speed.
  /// softmax(values) in Double (max-shifted): label-word probabilities.
  public static func softmax<C: Collection>(_ values: C) -> [Double] where C.Element == Float {
    guard let top = values.max() else { return [] }
    let e = values.map { exp(Double($0 - top)) }, z = e.reduce(0, +)
    return e.map { $0 / z }
  }

  /// softmax(values)[index] without allocating (a whole vocabulary's row, once per decoded token).
  @inlinable
  public static func softmaxProbability<C: Collection>(_ values: C, at index: Int) -> Double where C.Element == Float, C.Index == Int {
    var top = -Float.infinity
    for v in values where v > top { top = v }
    var z = 0.0
    for v in values { z += exp(Double(v - top)) }
    return exp(Double(values[values.startIndex + index] - top)) / z
  }

  @inlinable
  public static func argmax<C: Collection>(_ values: C) -> Int where C.Element == Float, C.Index == Int {
    var best = values.startIndex
    var bestValue = -Float.infinity
    for i in values.indices where values[i] > bestValue { bestValue = values[i]; best = i }
    return best - values.startIndex
  }
}
