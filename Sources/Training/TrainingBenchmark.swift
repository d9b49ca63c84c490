import Foundation
import Llama
import TensorCore

/// The LoRA training benchmark of `p2p bench --train`, the workload of
/// `../shared/anchors/bench_lora_train.py`: batch 8 × 64 random tokens, causal-LM loss over the
/// full vocabulary at every position, r = 8, alpha = 16, no dropout, AdamW lr 2e-4; one timed
/// step = forward + loss + backward + optimizer step. Targets q,v and all seven projections.
public struct TrainingBenchmark: Sendable {
  public struct Result: Codable, Sendable {
    public var train_qv_tokens_per_s: Double
    public var train_all_tokens_per_s: Double
    public var train_peak_rss_mb: Double
    public var qv_runs: [Double]
    public var all_runs: [Double]
    /// Trained tokens/s at the GEMM limit: FLOPs of a step from the model shapes at `gemm_gflops`.
    public var gemm_limit_tokens_per_s: Double
    public var gemm_gflops: Double
  }

  public let model: LlamaModel
  public var repetitions: Int
  public var batch = 8, length = 64

  public init(model: LlamaModel, repetitions: Int = 5) { self.model = model; self.repetitions = repetitions }

  public func run(progress: (String, Double) -> Void = { _, _ in }) throws -> Result {
    let qv = try measure(targets: [.q, .v])
    progress("train q,v", EngineBenchmark.median(qv))
    let all = try measure(targets: LoRATarget.allCases)
    progress("train all", EngineBenchmark.median(all))
    let gflops = Self.gemmRate()
    // Per token: forward 2·P_body + LM head 2·C·V, backward through activations the same again
    // (no base weight gradients): ≈ 4·(P_body + C·V) FLOPs.
    let c = model.config
    let body = Double(c.layerCount) * Double(c.hiddenSize) * Double(c.qDim + 2 * c.kvDim + c.qDim + 3 * c.feedForwardSize)
    let flopsPerToken = 4 * (body + Double(c.hiddenSize * c.vocabularySize))
    return Result(train_qv_tokens_per_s: EngineBenchmark.median(qv), train_all_tokens_per_s: EngineBenchmark.median(all),
                  train_peak_rss_mb: ProcessStats.peakRSSMegabytes, qv_runs: qv, all_runs: all,
                  gemm_limit_tokens_per_s: gflops * 1e9 / flopsPerToken, gemm_gflops: gflops)
  }

  private func measure(targets: [LoRATarget]) throws -> [Double] {
    let lora = LoRAParameters(model: model.config, lora: LoRAConfig(rank: 8, alpha: 16, dropout: 0, targets: targets))
    var rng = SeededRNG(seed: 0)
    lora.initialize(using: &rng)
    let trainable = TrainableModel(base: model, lora: lora)
    let opt = AdamW(config: AdamWConfig(learningRate: 2e-4), parameterCount: lora.count)
    let v = model.config.vocabularySize
    func step() throws -> Double {
      let seqs = (0..<batch).map { _ -> TrainingSequence in
        let ids = (0..<length).map { _ in 100 + Int(rng.next() % UInt64(v - 100)) }
        return TrainingSequence(tokens: ids, targets: Array(ids.dropFirst()) + [-1])
      }
      let clock = ContinuousClock()
      let t0 = clock.now
      lora.gradients.zero()
      try trainable.accumulateGradients(seqs, dropout: &rng)
      opt.step(parameters: lora.values.pointer, gradients: lora.gradients.pointer, count: lora.count, learningRate: 2e-4)
      return Double(batch * length) / (clock.now - t0).seconds
    }
    _ = try step()
    _ = try step()
    return try (0..<repetitions).map { _ in try step() }
  }

  /// Measured fp32 GEMM rate (GFLOP/s) on the gate/up shape of the model.
  static func gemmRate() -> Double {
    let m = 512, n = 3072, k = 576
    let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n), c = FloatBuffer(count: m * n)
    var best = Double.infinity
    for _ in 0..<5 {
      let clock = ContinuousClock()
      let t0 = clock.now
      BLAS.gemm(.noTrans, .noTrans, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
      best = min(best, (clock.now - t0).seconds)
    }
    return 2 * Double(m * n * k) / best / 1e9
  }
}
