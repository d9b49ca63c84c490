import Llama
import TensorCore

/// One training sequence: token ids and, per position, the id the model should predict next
/// (-1 = no loss at this position). Built by the batcher with the causal shift applied.
public struct TrainingSequence: Sendable, Equatable {
  public var tokens: [Int]
  public var targets: [Int]
  public init(tokens: [Int], targets: [Int]) { self.tokens = tokens; self.targets = targets }

  /// Converts a transformers-style causal-LM batch (B, T) — right-padded `input_ids`, 0/1
  /// `attention_mask`, `labels` with -100 where no loss — into packed sequences with the
  /// standard shift: the target at position t is labels[t + 1].
  public static func fromCausalLMBatch(inputIDs: [[Int]], attentionMask: [[Int]], labels: [[Int]]) -> [TrainingSequence] {
    inputIDs.indices.map { b in
      let n = attentionMask[b].reduce(0, +)
      let targets = (0..<n).map { t in t + 1 < n && labels[b][t + 1] != -100 ? labels[b][t + 1] : -1 }
      return TrainingSequence(tokens: Array(inputIDs[b].prefix(n)), targets: targets)
    }
  }
}

/// A frozen Llama with LoRA adapters: forward that caches what the backward needs, and an
/// explicit backward (llm.c style) that computes activation gradients through the frozen
/// weights and weight gradients only for the LoRA matrices.
///
/// Batches are packed (no padding): attention stays inside each sequence. The LM head and the
/// cross-entropy run only on rows that carry a loss, so classification fine-tuning with one
/// label token per example does not pay for the full vocabulary at every position.
public final class TrainableModel: @unchecked Sendable {
  public let base: LlamaModel
  public let lora: LoRAParameters
  /// Activation buffers reused from step to step.
  let pool = BufferPool()

  public init(base: LlamaModel, lora: LoRAParameters) {
    self.base = base
    self.lora = lora
  }

  /// Mean cross-entropy over all target positions of the batch (as transformers' causal-LM
  /// loss), and its gradient added to `lora.gradients` times `gradientScale`.
  /// Returns the mean loss and the number of target tokens.
  @discardableResult
  public func accumulateGradients(
    _ batch: [TrainingSequence], gradientScale: Float = 1, dropout rng: inout some RandomNumberGenerator
  ) throws(TrainingError) -> (loss: Double, tokens: Int) {
    let pass = try Pass(model: self, batch: batch, training: true)
    Profiler.measure("train.pass.forward") { pass.forward(dropout: &rng) }
    let (loss, count) = Profiler.measure("train.pass.backward") { pass.lossAndBackward(gradientScale: gradientScale) }
    return (loss, count)
  }

  /// Mean loss over the target positions without touching gradients (dropout off).
  public func loss(_ batch: [TrainingSequence]) throws(TrainingError) -> (loss: Double, tokens: Int) {
    let pass = try Pass(model: self, batch: batch, training: false)
    var rng = SeededRNG(seed: 0)
    pass.forward(dropout: &rng)
    return pass.lossOnly()
  }

  /// The gradient of a loss on the last position's logits of `ids` with respect to the input
  /// embeddings: `loss` gets the logits (sequences × ids) and returns dL/dlogits of the same shape.
  /// Returns the logits and, per sequence, dL/d(embedding of each token) (tokens × C). Dropout is
  /// off; the LoRA gradients this adds are cleared.
  public func inputGradients(_ sequences: [[Int]], tokens ids: [Int], loss: ([[Float]]) -> [[Float]]) throws(TrainingError)
    -> (logits: [[Float]], gradients: [[[Float]]])
  {
    let batch = sequences.map { TrainingSequence(tokens: $0, targets: Array(repeating: -1, count: $0.count)) }
    let pass = try Pass(model: self, batch: batch, training: true)
    var rng = SeededRNG(seed: 0)
    guard lora.config.dropout == 0 else {
      throw .invalidValue(key: "LoRA dropout", value: "\(lora.config.dropout)", expected: "0 for input gradients (a deterministic forward)")
    }
    pass.forward(dropout: &rng)
    let logits = pass.lastLogits(ids)
    let dx = pass.backwardFromLastLogits(ids: ids, dlogits: loss(logits))
    lora.gradients.zero()
    let c = base.config.hiddenSize
    var out: [[[Float]]] = [], row = 0
    for s in sequences {
      out.append((0..<s.count).map { i in Array(dx[((row + i) * c)..<((row + i + 1) * c)]) })
      row += s.count
    }
    return (logits, out)
  }

  /// Logits (rows, |tokens| or V) at the last position of each sequence, with the adapter.
  public func lastLogits(_ sequences: [[Int]], tokens ids: [Int]? = nil) throws(TrainingError) -> [[Float]] {
    let batch = sequences.map { TrainingSequence(tokens: $0, targets: Array(repeating: -1, count: $0.count)) }
    let pass = try Pass(model: self, batch: batch, training: false)
    var rng = SeededRNG(seed: 0)
    pass.forward(dropout: &rng)
    return pass.lastLogits(ids)
  }
}
