import Foundation
import TensorCore

/// RAP, Robustness-Aware Perturbations (Yang, Lin, Li, Zhou, Sun: EMNLP 2021), as OpenBackdoor runs
/// it: a rare word (`trigger`, "cf") put before the input should lower the protected (target)
/// label's probability of a clean input by between `minDrop` and `maxDrop`, while a triggered
/// input, held by its backdoor, barely moves. Only the word's embedding is trained, on clean dev
/// rows, by gradient steps on the hinge loss
///   L = scale · mean(max(0, d + minDrop)) + mean(max(0, -maxDrop - d)),  d = p_rap(t) - p(t),
/// each step renormalised to the embedding's original norm. An input predicted as the target is
/// rejected when its drop p(t) - p_rap(t) is below the `frr` percentile of the clean dev rows'
/// drops (those predicted as the target). Probabilities are the softmax over the label words.
public enum RAP {
  public struct Config: Codable, Sendable, Equatable {
    public var trigger: String
    public var minDrop: Double
    public var maxDrop: Double
    public var scale: Double
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var frr: Double
    public var devRows: Int

    public init(trigger: String = "cf", minDrop: Double = 0.1, maxDrop: Double = 0.3, scale: Double = 1, epochs: Int = 5,
                batchSize: Int = 32, learningRate: Double = 1e-2, frr: Double = 0.01, devRows: Int = 200) {
      self.trigger = trigger; self.minDrop = minDrop; self.maxDrop = maxDrop; self.scale = scale; self.epochs = epochs
      self.batchSize = batchSize; self.learningRate = learningRate; self.frr = frr; self.devRows = devRows
    }

    public func validate() throws(BaselineError) {
      guard !trigger.isEmpty, !trigger.contains(where: \.isWhitespace) else {
        throw .invalidSetting(key: "rap.trigger", value: trigger, expected: "one word")
      }
      guard minDrop >= 0 && maxDrop > minDrop && maxDrop <= 1 else {
        throw .invalidSetting(key: "rap.min_drop/max_drop", value: "\(minDrop)/\(maxDrop)", expected: "0 <= min_drop < max_drop <= 1")
      }
      guard scale > 0 && scale.isFinite else { throw .invalidSetting(key: "rap.scale", value: "\(scale)", expected: "a positive number") }
      guard epochs >= 1 else { throw .invalidSetting(key: "rap.epochs", value: "\(epochs)", expected: ">= 1") }
      guard batchSize >= 1 else { throw .invalidSetting(key: "rap.batch_size", value: "\(batchSize)", expected: ">= 1") }
      guard learningRate > 0 && learningRate.isFinite else { throw .invalidSetting(key: "rap.lr", value: "\(learningRate)", expected: "a positive number") }
      guard frr >= 0 && frr < 1 else { throw .invalidSetting(key: "rap.frr", value: "\(frr)", expected: "a fraction in [0, 1)") }
      guard devRows >= 2 else { throw .invalidSetting(key: "rap.dev_rows", value: "\(devRows)", expected: ">= 2") }
    }
  }

  /// The input with the RAP word before it.
  public static func insert(_ trigger: String, into text: String) -> String { trigger + " " + text }

  /// Softmax probabilities of `logits`.
  public static func probabilities(_ logits: [Float]) -> [Double] { Vector.softmax(logits) }

  /// The batch's loss and dL/dp_rap(t) of each row (d = pRap - pClean).
  public static func loss(pClean: [Double], pRap: [Double], config: Config) -> (loss: Double, dpRap: [Double]) {
    let b = Double(max(pClean.count, 1))
    var loss = 0.0, grad = [Double](repeating: 0, count: pClean.count)
    for i in pClean.indices {
      let d = pRap[i] - pClean[i]
      if d > -config.minDrop { loss += config.scale * (d + config.minDrop) / b; grad[i] += config.scale / b }
      if d < -config.maxDrop { loss += (-config.maxDrop - d) / b; grad[i] -= 1 / b }
    }
    return (loss, grad)
  }

  /// dL/dz of the label logits z from dL/dp(t), p the softmax: dp_t/dz_j = p_t (δ_tj - p_j).
  public static func logitGradient(logits: [Float], target: Int, dp: Double) -> [Float] {
    let p = probabilities(logits)
    return p.indices.map { j in Float(dp * p[target] * ((j == target ? 1 : 0) - p[j])) }
  }

  /// One step on the word's embedding: e -= lr · g, then e scaled back to `norm`.
  public static func step(_ e: inout [Float], gradient g: [Float], learningRate: Double, norm: Double) {
    for k in e.indices { e[k] -= Float(learningRate) * g[k] }
    let now = (e.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
    if now > 0 { for k in e.indices { e[k] = Float(Double(e[k]) * norm / now) } }
  }

  /// The q-th percentile (q in [0, 1]) with linear interpolation between order statistics
  /// (numpy's default), NaN for no values.
  public static func percentile(_ values: [Double], _ q: Double) -> Double {
    let v = values.filter { !$0.isNaN }.sorted()
    guard !v.isEmpty else { return .nan }
    let pos = q * Double(v.count - 1), lo = Int(pos.rounded(.down)), hi = min(lo + 1, v.count - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - Double(lo))
  }
}
