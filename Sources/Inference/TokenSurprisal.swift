import Foundation
import Llama

/// Per-token surprisal under the causal LM: −log p(tᵢ | t₀ … tᵢ₋₁) for every token of a sequence
/// but the first (which has no context and gets 0), ~1024 packed tokens a pass. The base of the
/// insertion test (`InsertionEvidence`) and of perplexity-based screens.
public struct TokenSurprisal {
  public let model: LlamaModel
  public static let tokensPerPass = 1024

  public init(model: LlamaModel) { self.model = model }

  /// out[s][i] = −log p(sequences[s][i] | sequences[s][..<i]) in nats; out[s][0] = 0.
  public func surprisal(_ sequences: [[Int]]) throws -> [[Float]] {
    var out: [[Float]] = []
    out.reserveCapacity(sequences.count)
    var group: [[Int]] = [], tokens = 0
    func flush() throws {
      guard !group.isEmpty else { return }
      let logits = try model.forward(group, logits: .all)
      for (s, seq) in group.enumerated() {
        var row = [Float](repeating: 0, count: seq.count)
        for i in 1..<max(1, seq.count) {
          // Logits at position i − 1 predict token i.
          row[i] = Self.negativeLogSoftmax(logits.row(logits.rowStart[s] + i - 1), at: seq[i])
        }
        out.append(row)
      }
      group = []; tokens = 0
    }
    for seq in sequences {
      precondition(!seq.isEmpty, "TokenSurprisal: an empty sequence")
      if tokens + seq.count > Self.tokensPerPass { try flush() }
      group.append(seq); tokens += seq.count
    }
    try flush()
    return out
  }

  /// −log softmax(logits)[index], computed stably in Double.
  public static func negativeLogSoftmax(_ logits: ArraySlice<Float>, at index: Int) -> Float {
    var m = -Float.infinity
    for v in logits { m = max(m, v) }
    var sum = 0.0
    for v in logits { sum += exp(Double(v - m)) }
    return Float(log(sum) - Double(logits[logits.startIndex + index] - m))
  }
}
