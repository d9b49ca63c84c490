import Foundation
import TensorCore
import Testing
import Training

/// AdamW against `torch.optim.AdamW` values and against the PyTorch formula evaluated in Double.
@Suite struct AdamWTests {
  /// The PyTorch update (`_single_tensor_adam`, decoupled weight decay) in Double.
  struct Reference {
    var p: [Double], m: [Double], v: [Double], step = 0
    let config: AdamWConfig

    init(parameters: [Float], config: AdamWConfig) {
      p = parameters.map(Double.init)
      m = [Double](repeating: 0, count: parameters.count)
      v = m
      self.config = config
    }

    mutating func step(gradients: [Float], learningRate: Float) {
      step += 1
      let lr = Double(learningRate), b1 = 0.9, b2 = 0.999  // what PyTorch holds
      let bc1 = 1 - pow(b1, Double(step)), bc2 = 1 - pow(b2, Double(step))
      for i in p.indices {
        let g = Double(gradients[i])
        p[i] *= 1 - lr * Double(config.weightDecay.description)!
        m[i] = b1 * m[i] + (1 - b1) * g
        v[i] = b2 * v[i] + (1 - b2) * g * g
        p[i] -= lr / bc1 * m[i] / (v[i].squareRoot() / bc2.squareRoot() + Double(config.epsilon))
      }
    }
  }

  /// Deterministic parameters and gradients with mixed signs and magnitudes.
  static func values(_ count: Int, seed: UInt64, scale: Float) -> [Float] {
    var rng = SeededRNG(seed: seed)
    return (0..<count).map { i in (rng.nextFloat() * 2 - 1) * scale * (i % 7 == 0 ? 100 : 1) }
  }

  static func relativeDifference(_ a: [Float], _ b: [Double]) -> Double {
    zip(a, b).map { abs(Double($0) - $1) / max(abs($1), 1e-3) }.max() ?? 0
  }

  /// Many parameters (SIMD body and scalar tail), five steps with a changing learning rate.
  @Test(arguments: [0.0, 0.1] as [Float], [1, 16, 37])
  func matchesPyTorchFormula(weightDecay: Float, count: Int) {
    let config = AdamWConfig(learningRate: 1e-2, weightDecay: weightDecay)
    let initial = Self.values(count, seed: 1, scale: 1)
    let parameters = FloatBuffer(initial)
    let optimizer = AdamW(config: config, parameterCount: count)
    var reference = Reference(parameters: initial, config: config)
    for k in 0..<5 {
      let gradients = Self.values(count, seed: UInt64(10 + k), scale: 0.1)
      let lr = Float(1e-2) * Float(5 - k) / 5
      gradients.withUnsafeBufferPointer { g in
        optimizer.step(parameters: parameters.pointer, gradients: g.baseAddress!, count: count, learningRate: lr)
      }
      reference.step(gradients: gradients, learningRate: lr)
      #expect(Self.relativeDifference(parameters.array, reference.p) < 2e-6, "step \(k + 1)")
      #expect(Self.relativeDifference(optimizer.firstMoment.array, reference.m) < 2e-6)
      #expect(Self.relativeDifference(optimizer.secondMoment.array, reference.v) < 2e-6)
    }
    #expect(optimizer.step == 5)
  }

  /// Values printed by torch 2.x (float32):
  /// p = [0.5, -1, 2, 0, 1e-3]; AdamW(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd); three
  /// steps with lr 1e-2, 5e-3, 2e-3 and gradients `grads` below.
  @Test(arguments: [
    (Float(0), [0.4873521029949188, -0.9928690195083618, 1.9837886095046997, -0.004799664951860905, -0.004475350491702557] as [Float]),
    (Float(0.1), [0.486509770154953, -0.991176426410675, 1.980398178100586, -0.004798931069672108, -0.004470794461667538] as [Float]),
  ])
  func matchesTorchValues(weightDecay: Float, expected: [Float]) {
    let grads: [[Float]] = [[0.1, -0.2, 0.3, 0.0, 1e-3], [-0.05, 0.4, 0.3, 1e-6, -2.0], [0.2, 0.2, -0.1, 0.0, 0.5]]
    let rates: [Float] = [1e-2, 5e-3, 2e-3]
    let parameters = FloatBuffer([0.5, -1.0, 2.0, 0.0, 1e-3])
    let optimizer = AdamW(config: AdamWConfig(learningRate: 1e-2, weightDecay: weightDecay), parameterCount: 5)
    for (g, lr) in zip(grads, rates) {
      g.withUnsafeBufferPointer { optimizer.step(parameters: parameters.pointer, gradients: $0.baseAddress!, count: 5, learningRate: lr) }
    }
    for (a, b) in zip(parameters.array, expected) {
      #expect(abs(a - b) <= 4 * b.ulp + 1e-9, "\(a) vs torch \(b)")
    }
    let torchM: [Float] = [0.023600000888109207, 0.0398000031709671, 0.04130000248551369, 9.000000034120603e-08, -0.12991900742053986]
    let torchV: [Float] = [5.2477513236226514e-05, 0.0002397600474068895, 0.00018973011174239218, 9.9900008123326e-16, 0.0042460011318326]
    for (a, b) in zip(optimizer.firstMoment.array + optimizer.secondMoment.array, torchM + torchV) {
      #expect(abs(a - b) <= 2 * b.ulp, "\(a) vs torch \(b)")
    }
  }

  /// The first step moves every parameter with a non-zero gradient by about lr (Adam's
  /// normalised step) against the gradient's sign, after the weight decay.
  @Test func firstStepByHand() {
    let parameters = FloatBuffer([1.0, -2.0, 3.0])
    let optimizer = AdamW(config: AdamWConfig(learningRate: 0.1, weightDecay: 0.5), parameterCount: 3)
    [Float(4), -0.5, 0].withUnsafeBufferPointer {
      optimizer.step(parameters: parameters.pointer, gradients: $0.baseAddress!, count: 3, learningRate: 0.1)
    }
    // p·(1 − 0.05) − 0.1·sign(g)·|g|/(|g| + 1e-8): m̂ = g, √v̂ = |g|.
    #expect(abs(parameters[0] - (0.95 - 0.1)) < 1e-6)
    #expect(abs(parameters[1] - (-1.9 + 0.1)) < 1e-6)
    #expect(parameters[2] == Float(3) * Float(1 - 0.1 * 0.5))  // g = 0: only the decay
  }

  /// A restored optimizer continues bit for bit like the one that was never interrupted.
  @Test func stateRoundTrip() throws {
    let count = 21
    let config = AdamWConfig(learningRate: 3e-3, weightDecay: 0.01)
    let a = AdamW(config: config, parameterCount: count)
    let pa = FloatBuffer(Self.values(count, seed: 2, scale: 1))
    func run(_ o: AdamW, _ p: FloatBuffer, steps: Range<Int>) {
      for k in steps {
        Self.values(count, seed: UInt64(100 + k), scale: 0.3).withUnsafeBufferPointer {
          o.step(parameters: p.pointer, gradients: $0.baseAddress!, count: count, learningRate: 3e-3)
        }
      }
    }
    run(a, pa, steps: 0..<2)
    let saved = a.state()
    let savedParameters = pa.array
    run(a, pa, steps: 2..<5)

    let b = AdamW(config: config, parameterCount: count)
    try b.restore(saved)
    let pb = FloatBuffer(savedParameters)
    run(b, pb, steps: 2..<5)
    #expect(pb.array == pa.array)
    #expect(b.state() == a.state())
    #expect(b.step == 5)
  }

  @Test func restoreRejectsBadState() {
    let o = AdamW(config: AdamWConfig(learningRate: 1e-3), parameterCount: 3)
    let zeros = [Float](repeating: 0, count: 3)
    #expect(thrownTrainingError { try o.restore(AdamWState(step: 1, firstMoment: [0, 0], secondMoment: zeros)) }
      == .invalidValue(key: "optimizer.firstMoment", value: "2 values", expected: "3 (one per parameter)"))
    #expect(thrownTrainingError { try o.restore(AdamWState(step: -1, firstMoment: zeros, secondMoment: zeros)) } != nil)
    #expect(thrownTrainingError { try o.restore(AdamWState(step: 1, firstMoment: [0, .nan, 0], secondMoment: zeros)) } != nil)
    #expect(thrownTrainingError { try o.restore(AdamWState(step: 1, firstMoment: zeros, secondMoment: [0, -1, 0])) } != nil)
    #expect(o.step == 0)
  }

  /// The hyper-parameters are used as the decimals the user wrote, like Python's floats.
  @Test func decimalHyperParameters() {
    #expect(AdamW.decimal(0.999) == 0.999)
    #expect(AdamW.decimal(0.9) == 0.9)
    #expect(AdamW.decimal(0.01) == 0.01)
    #expect(AdamW.decimal(0) == 0)
    #expect(1 - AdamW.decimal(0.999) == 1 - 0.999)
  }

  @Test func configDecodesWithDefaultsAndValidates() throws {
    let c = try JSONDecoder().decode(AdamWConfig.self, from: Data(#"{"learningRate": 0.0002, "weightDecay": 0.01}"#.utf8))
    #expect(c == AdamWConfig(learningRate: 2e-4, weightDecay: 0.01))
    #expect(c.beta1 == 0.9 && c.beta2 == 0.999 && c.epsilon == 1e-8)
    #expect(try JSONDecoder().decode(AdamWConfig.self, from: JSONEncoder().encode(c)) == c)
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(AdamWConfig.self, from: Data(#"{"beta1": 0.9}"#.utf8)) }
    try c.validate()
    #expect(thrownTrainingError { try AdamWConfig(learningRate: 1e-3, beta2: 1).validate() }
      == .invalidValue(key: "beta2", value: "1.0", expected: "in [0, 1)"))
    #expect(thrownTrainingError { try AdamWConfig(learningRate: -1).validate() } != nil)
    #expect(thrownTrainingError { try AdamWConfig(learningRate: 1e-3, weightDecay: .nan).validate() } != nil)
  }
}
