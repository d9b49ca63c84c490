import Foundation
import TensorCore

/// Hyper-parameters of AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
/// ICLR 2019), named and defaulted as in `torch.optim.AdamW` except the weight decay, which
/// defaults to 0 here (PyTorch: 0.01) because the P2P reference recipe trains LoRA without it.
///
/// A JSON file may leave out any field but `learningRate`; the defaults live in `init` only.

public struct AdamWConfig: Codable, Sendable, Equatable {
  /// Peak learning rate (the schedule multiplies it; `AdamW.step` receives the scheduled value).
  public var learningRate: Float
  /// Decay of the first-moment (mean) running average.
  public var beta1: Float
  /// Decay of the second-moment (uncentred variance) running average.
  public var beta2: Float
  /// Added to the bias-corrected root of the second moment.
  public var epsilon: Float
  /// Decoupled weight decay: parameters shrink by `lr · weightDecay` before each update.
  public var weightDecay: Float

  public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
  }

  private enum CodingKeys: String, CodingKey { case learningRate, beta1, beta2, epsilon, weightDecay }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let defaults = AdamWConfig(learningRate: try c.decode(Float.self, forKey: .learningRate))
    self = defaults
    beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? defaults.beta1
    beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? defaults.beta2
    epsilon = try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? defaults.epsilon
    weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? defaults.weightDecay
  }

  /// The ranges `torch.optim.AdamW` accepts (it also rejects negative values and betas ≥ 1).
  public func validate() throws(TrainingError) {
    func check(_ ok: Bool, _ key: String, _ value: Float, _ expected: String) throws(TrainingError) {
      if !ok { throw .invalidValue(key: key, value: "\(value)", expected: expected) }
    }
    try check(learningRate >= 0 && learningRate.isFinite, "learningRate", learningRate, "a finite value >= 0")
    try check(beta1 >= 0 && beta1 < 1, "beta1", beta1, "in [0, 1)")
    try check(beta2 >= 0 && beta2 < 1, "beta2", beta2, "in [0, 1)")
    try check(epsilon >= 0 && epsilon.isFinite, "epsilon", epsilon, "a finite value >= 0")
    try check(weightDecay >= 0 && weightDecay.isFinite, "weightDecay", weightDecay, "a finite value >= 0")
  }
}

/// The optimizer state that a checkpoint must keep: the step count and both moments, flat, in
/// the parameter order of the optimizer.
public struct AdamWState: Sendable, Equatable {
  /// Optimizer steps taken so far (the next step uses `step + 1` for bias correction).
  public var step: Int
  /// First moments `m`, one per parameter.
  public var firstMoment: [Float]
  /// Second moments `v`, one per parameter.
  public var secondMoment: [Float]

  public init(step: Int, firstMoment: [Float], secondMoment: [Float]) {
    self.step = step
    self.firstMoment = firstMoment
    self.secondMoment = secondMoment
  }
}

/// AdamW over one flat parameter buffer, with exactly the update of `torch.optim.AdamW`
/// (`_single_tensor_adam` with `decoupled_weight_decay=True`, `amsgrad=False`), step t ≥ 1:
///
///     p ← p · (1 − lr·wd)                                  (skipped when wd = 0)
///     m ← lerp(m, g, 1 − β1)                               = m + (1 − β1)(g − m)
///     v ← v·β2 + ((1 − β2)·g)·g
///     p ← p + (−lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
///
/// The scalar factors are computed in Double, as Python does, from the *decimal* values of the
/// hyper-parameters: PyTorch holds β2 = 0.999 as the Double 0.999, while the Float 0.999 is
/// 0.99900001287, which would make `1 − β2` — and every second moment — 1.3e-5 too small
/// (relative). So each Float is read back as the Double of its shortest decimal form, which is
/// what the user wrote for any value with up to 7 significant digits. The element-wise work is
/// Float32 with SIMD16 vectors in PyTorch's order of operations; results agree with PyTorch to
/// a few Float32 ulps (its vectorised `lerp` uses a fused multiply-add).
public final class AdamW {
  public let config: AdamWConfig
  public let parameterCount: Int
  /// Optimizer steps taken (0 before the first `step`).
  public private(set) var step: Int = 0
  /// First moments `m` // (parameterCount)
  public let firstMoment: FloatBuffer
  /// Second moments `v` // (parameterCount)
  public let secondMoment: FloatBuffer

  /// The hyper-parameters as the Doubles Python would hold.
  private let decimal: (beta1: Double, beta2: Double, weightDecay: Double)

  public init(config: AdamWConfig, parameterCount: Int) {
    precondition(parameterCount >= 0, "parameterCount must be >= 0")
    self.config = config
    decimal = (Self.decimal(config.beta1), Self.decimal(config.beta2), Self.decimal(config.weightDecay))
    self.parameterCount = parameterCount
    firstMoment = FloatBuffer(count: parameterCount)
    secondMoment = FloatBuffer(count: parameterCount)
  }

  /// One update of all `count` (= `parameterCount`) parameters from their gradients, at the
  /// learning rate the schedule gives for this step (`config.learningRate` is not read here).
  public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int, learningRate: Float) {
    precondition(count == parameterCount, "AdamW.step: \(count) parameters, optimizer built for \(parameterCount)")
    step += 1
    let t = Double(step)
    let lr = Double(learningRate)
    let beta1 = decimal.beta1, beta2 = decimal.beta2
    let decay = Float(1 - lr * decimal.weightDecay)
    let applyDecay = config.weightDecay != 0
    // torch.lerp: `a + w·(b − a)` for w < 0.5, `b − (b − a)·(1 − w)` otherwise.
    let lerpWeight = Float(1 - beta1)
    let smallWeight = abs(lerpWeight) < 0.5
    let lerpComplement = 1 - lerpWeight
    let b2 = Float(beta2), oneMinusB2 = Float(1 - beta2)
    let negativeStepSize = Float(-(lr / (1 - pow(beta1, t))))
    let correction2Root = Float((1 - pow(beta2, t)).squareRoot())
    let eps = Float(config.epsilon)
    let m = firstMoment.pointer, v = secondMoment.pointer

    typealias V = SIMD16<Float>
    let width = V.scalarCount
    let vectorEnd = count - count % width
    let raw = UnsafeMutableRawPointer(parameters)
    let rawG = UnsafeRawPointer(gradients)
    let rawM = UnsafeMutableRawPointer(m), rawV = UnsafeMutableRawPointer(v)
    var i = 0
    while i < vectorEnd {
      let offset = i * 4
      var p = raw.loadUnaligned(fromByteOffset: offset, as: V.self)
      let g = rawG.loadUnaligned(fromByteOffset: offset, as: V.self)
      var mi = rawM.loadUnaligned(fromByteOffset: offset, as: V.self)
      var vi = rawV.loadUnaligned(fromByteOffset: offset, as: V.self)
      if applyDecay { p = p * decay }
      mi = smallWeight ? mi + lerpWeight * (g - mi) : g - (g - mi) * lerpComplement
      vi = vi * b2 + (oneMinusB2 * g) * g
      // Swift lowers the SIMD square root lane by lane (libm `sqrtf` semantics): about half
      // of this memory-bound loop's time, ~3.5 ms per million parameters on 2 vCPUs.
      let denominator = vi.squareRoot() / correction2Root + eps
      p = p + (negativeStepSize * mi) / denominator
      raw.storeBytes(of: p, toByteOffset: offset, as: V.self)
      rawM.storeBytes(of: mi, toByteOffset: offset, as: V.self)
      rawV.storeBytes(of: vi, toByteOffset: offset, as: V.self)
      i += width
    }
    while i < count {
      var p = parameters[i]
      let g = gradients[i]
      if applyDecay { p = p * decay }
      let mi = smallWeight ? m[i] + lerpWeight * (g - m[i]) : g - (g - m[i]) * lerpComplement
      let vi = v[i] * b2 + (oneMinusB2 * g) * g
      let denominator = vi.squareRoot() / correction2Root + eps
      parameters[i] = p + (negativeStepSize * mi) / denominator
      m[i] = mi
      v[i] = vi
      i += 1
    }
  }

  /// The Double nearest to the shortest decimal that round-trips `x` (0.999 for Float(0.999)).
  public static func decimal(_ x: Float) -> Double { Double(x.description) ?? Double(x) }

  /// A copy of the state for a checkpoint.
  public func state() -> AdamWState {
    AdamWState(step: step, firstMoment: firstMoment.array, secondMoment: secondMoment.array)
  }

  /// Restores a checkpointed state. Throws `invalidValue` when its sizes do not match this
  /// optimizer, the step is negative, or a moment is not finite (or `v` negative): a resumed run
  /// must continue exactly, not from silently repaired numbers.
  public func restore(_ state: AdamWState) throws(TrainingError) {
    guard state.step >= 0 else { throw .invalidValue(key: "optimizer.step", value: "\(state.step)", expected: ">= 0") }
    for (name, values) in [("optimizer.firstMoment", state.firstMoment), ("optimizer.secondMoment", state.secondMoment)] {
      guard values.count == parameterCount else {
        throw .invalidValue(key: name, value: "\(values.count) values", expected: "\(parameterCount) (one per parameter)")
      }
    }
    if let bad = state.firstMoment.firstIndex(where: { !$0.isFinite }) {
      throw .invalidValue(key: "optimizer.firstMoment[\(bad)]", value: "\(state.firstMoment[bad])", expected: "a finite value")
    }
    if let bad = state.secondMoment.firstIndex(where: { !($0 >= 0 && $0.isFinite) }) {
      throw .invalidValue(key: "optimizer.secondMoment[\(bad)]", value: "\(state.secondMoment[bad])", expected: "a finite value >= 0")
    }
    step = state.step
    state.firstMoment.withUnsafeBufferPointer { if let b = $0.baseAddress { firstMoment.pointer.update(from: b, count: parameterCount) } }
    state.secondMoment.withUnsafeBufferPointer { if let b = $0.baseAddress { secondMoment.pointer.update(from: b, count: parameterCount) } }
  }
}
