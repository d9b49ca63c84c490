import Foundation
import TensorCore

/// Decoding settings. Temperature 0 is greedy; otherwise softmax(logits / T) filtered by top-k
/// (0 = off) and top-p (1 = off), drawn from a generator seeded by `seed`.
public struct SamplingParameters: Codable, Sendable, Equatable {
  public var temperature: Float = 0
  public var topK: Int = 0
  public var topP: Float = 1
  public var seed: UInt64 = 0
  public var maxTokens: Int = 128
  public var stopAtEOS: Bool = true

  public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0, maxTokens: Int = 128, stopAtEOS: Bool = true) {
    self.temperature = temperature; self.topK = topK; self.topP = topP; self.seed = seed
    self.maxTokens = maxTokens; self.stopAtEOS = stopAtEOS
  }

  public func validate() throws(ModelError) {
    if !(temperature >= 0) || !temperature.isFinite { throw .badConfiguration(key: "temperature", value: "\(temperature)", expected: ">= 0") }
    if topK < 0 { throw .badConfiguration(key: "top-k", value: "\(topK)", expected: ">= 0") }
    if !(topP > 0 && topP <= 1) { throw .badConfiguration(key: "top-p", value: "\(topP)", expected: "in (0, 1]") }
    if maxTokens < 0 { throw .badConfiguration(key: "max-tokens", value: "\(maxTokens)", expected: ">= 0") }
  }
}

/// Picks the next token from one row of logits.
public struct Sampler: Sendable {
  public let parameters: SamplingParameters
  public init(_ parameters: SamplingParameters) { self.parameters = parameters }

  /// Index of the largest logit (the first one on ties, as torch.argmax).
  public static func argmax<C: Collection>(_ logits: C) -> Int where C.Element == Float, C.Index == Int { Vector.argmax(logits) }

  public func sample(_ logits: ArraySlice<Float>, using rng: inout some RandomNumberGenerator) -> Int {
    let p = parameters
    if p.temperature == 0 { return Self.argmax(logits) }
    // Candidates sorted by logit (descending), cut by top-k, then softmax at temperature T.
    var ids = Array(0..<logits.count)
    let base = logits.startIndex
    if p.topK > 0 && p.topK < ids.count {
      ids = Array(ids.sorted { logits[base + $0] > logits[base + $1] }.prefix(p.topK))
    } else {
      ids.sort { logits[base + $0] > logits[base + $1] }
    }
    let mx = logits[base + ids[0]]
    var probs = ids.map { Foundation.exp(Double((logits[base + $0] - mx) / p.temperature)) }
    let total = probs.reduce(0, +)
    for i in probs.indices { probs[i] /= total }
    // top-p: the smallest prefix whose mass reaches p (always at least one token).
    var keep = probs.count
    if p.topP < 1 {
      var acc = 0.0
      for (i, q) in probs.enumerated() {
        acc += q
        if acc >= Double(p.topP) { keep = i + 1; break }
      }
    }
    let mass = probs[0..<keep].reduce(0, +)
    let u = Double(rng.next() >> 11) * 0x1p-53 * mass
    var acc = 0.0
    for i in 0..<keep {
      acc += probs[i]
      if u < acc { return ids[i] }
    }
    return ids[keep - 1]
  }
}
