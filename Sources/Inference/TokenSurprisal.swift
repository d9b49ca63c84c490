import Llama
import TensorCore

/// Per-token surprisal under the causal LM: −log p(tᵢ | t₀ … tᵢ₋₁) for every token of a sequence
/// but the first (which has no context and gets 0), ~1024 packed tokens a pass. The per-row loss
/// of the training kernel (`Kernels.crossEntropy`) is exactly this. The base of the insertion test
/// (`InsertionScreening`).
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
      // Row r of sequence s (position i) predicts token i + 1; each sequence's last row predicts
      // nothing and is masked.
      var targets = [Int32](repeating: 0, count: tokens), weights = [Float](repeating: 0, count: tokens)
      for (s, seq) in group.enumerated() {
        for i in 0..<(seq.count - 1) {
          targets[logits.rowStart[s] + i] = Int32(seq[i + 1]); weights[logits.rowStart[s] + i] = 1
        }
      }
      var values = logits.values  // (tokens, V); the kernel overwrites it with the gradient
      var losses = [Float](repeating: 0, count: tokens)
      _ = Kernels.crossEntropy(logits: &values, targets: targets, rowWeight: weights, rows: tokens, vocab: logits.width,
                               losses: &losses)
      for (s, seq) in group.enumerated() {
        let start = logits.rowStart[s]
        out.append([0] + losses[start..<(start + seq.count - 1)])
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
}
