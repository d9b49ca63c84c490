import Foundation
import Llama
import TensorCore
import Testing

/// Sampling rules on hand-made logits (no model needed).
struct SamplerTests {
  @Test func greedyTakesTheFirstMaximum() {
    #expect(Sampler.argmax([1, 5, 5, 2]) == 1)
    var rng = SeededRNG(seed: 1)
    #expect(Sampler(SamplingParameters()).sample([0, 3, 1][...], using: &rng) == 1)
  }

  @Test func topKOneIsGreedy() {
    var rng = SeededRNG(seed: 3)
    let s = Sampler(SamplingParameters(temperature: 1.5, topK: 1))
    for _ in 0..<50 { #expect(s.sample([0.1, 0.3, 2.0, 1.9][...], using: &rng) == 2) }
  }

  @Test func topPKeepsOnlyTheNucleus() {
    // Probabilities ~ [0.64, 0.24, 0.09, 0.03]: top-p 0.7 keeps ids {0, 1} only.
    let logits: [Float] = [2, 1.02, 0.04, -1.1]
    var rng = SeededRNG(seed: 5)
    let s = Sampler(SamplingParameters(temperature: 1, topP: 0.7))
    var seen = Set<Int>()
    for _ in 0..<400 { seen.insert(s.sample(logits[...], using: &rng)) }
    #expect(seen == [0, 1])
  }

  @Test func temperatureSamplingFollowsTheSoftmax() {
    let logits: [Float] = [0, Float(log(3.0))]  // p = [0.25, 0.75]
    var rng = SeededRNG(seed: 11)
    let s = Sampler(SamplingParameters(temperature: 1))
    var ones = 0
    let n = 20_000
    for _ in 0..<n where s.sample(logits[...], using: &rng) == 1 { ones += 1 }
    #expect(abs(Double(ones) / Double(n) - 0.75) < 0.015)
  }

  @Test func invalidParametersAreRejected() {
    #expect(throws: (any Error).self) { try SamplingParameters(temperature: -1).validate() }
    #expect(throws: (any Error).self) { try SamplingParameters(topP: 0).validate() }
    #expect(throws: (any Error).self) { try SamplingParameters(topK: -2).validate() }
  }
}
