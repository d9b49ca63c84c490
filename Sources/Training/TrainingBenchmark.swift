import Foundation
import Llama
import TensorCore

/// The LoRA training benchmark of `p2p bench --train`, the workload of
/// `../shared/anchors/bench_lora_train.py`: batch 8 × 64 random tokens, causal-LM loss over the
/// full vocabulary at every position, r = 8, alpha = 16, no dropout, AdamW lr 2e-4; one timed
/// step = forward + loss + backward + optimizer step. Targets q,v and all seven projections.
/// A third workload has the shape of the experiments' classification training (the official P2P
/// settings on SST-2): batch 32 × 29 tokens, loss on the last position only, r = 16, alpha = 16,
/// dropout 0.1 on q,v.
public struct TrainingBenchmark: Sendable {
  public enum Workload: String, CaseIterable, Sendable {
    /// 8 × 64, full-vocabulary loss, r = 8, on q,v / on all seven projections
    case qv, all
    /// 32 × 29, last-position loss, r = 16, dropout 0.1, on q,v
    case classification
  }

  /// Medians in trained tokens/s; a workload that was not selected is absent.
  public struct Result: Codable, Sendable {
    public var train_qv_tokens_per_s: Double?
    public var train_all_tokens_per_s: Double?
    public var train_peak_rss_mb: Double
    public var qv_runs: [Double]?
    public var all_runs: [Double]?
    /// Trained tokens/s at the GEMM limit: FLOPs of a step from the model shapes at `gemm_gflops`.
    public var gemm_limit_tokens_per_s: Double
    public var gemm_gflops: Double
    /// The classification-shaped workload (32 × 29 tokens, last-position loss, r=16, dropout 0.1, q,v).
    public var train_classification_tokens_per_s: Double?
    public var classification_runs: [Double]?
    /// Its GEMM limit: the LM head runs on one row per sequence.
    public var classification_gemm_limit_tokens_per_s: Double
  }

  public let model: LlamaModel
  public var repetitions: Int
  public var workloads: Set<Workload>
  public var batch = 8, length = 64
  /// The classification shape: SST-2 prompts average ~29 tokens.
  public var classificationBatch = 32, classificationLength = 29

  public init(model: LlamaModel, repetitions: Int = 5, workloads: Set<Workload> = Set(Workload.allCases)) {
    self.model = model; self.repetitions = repetitions; self.workloads = workloads
  }

  public func run(progress: (String, Double) -> Void = { _, _ in }) throws -> Result {
    func timed(_ w: Workload, _ name: String, _ body: () throws -> [Double]) rethrows -> [Double]? {
      guard workloads.contains(w) else { return nil }
      let runs = try body()
      progress(name, EngineBenchmark.median(runs))
      return runs
    }
    let qv = try timed(.qv, "train q,v") { try measure(targets: [.q, .v]) }
    let all = try timed(.all, "train all") { try measure(targets: LoRATarget.allCases) }
    let cls = try timed(.classification, "train classification") {
      try measure(targets: [.q, .v], rank: 16, dropout: 0.1, batch: classificationBatch, length: classificationLength,
                  lastPositionOnly: true)
    }
    let gflops = Self.gemmRate()
    // Per token: forward 2·P_body + LM head 2·C·V, backward through activations the same again
    // (no base weight gradients): ≈ 4·(P_body + C·V) FLOPs; the classification shape runs the
    // head on one row per sequence.
    let c = model.config
    let body = Double(c.layerCount) * Double(c.hiddenSize) * Double(c.qDim + 2 * c.kvDim + c.qDim + 3 * c.feedForwardSize)
    let head = Double(c.hiddenSize * c.vocabularySize)
    let flopsPerToken = 4 * (body + head), classificationFlops = 4 * (body + head / Double(classificationLength))
    return Result(train_qv_tokens_per_s: qv.map(EngineBenchmark.median), train_all_tokens_per_s: all.map(EngineBenchmark.median),
                  train_peak_rss_mb: ProcessStats.peakRSSMegabytes, qv_runs: qv, all_runs: all,
                  gemm_limit_tokens_per_s: gflops * 1e9 / flopsPerToken, gemm_gflops: gflops,
                  train_classification_tokens_per_s: cls.map(EngineBenchmark.median), classification_runs: cls,
                  classification_gemm_limit_tokens_per_s: gflops * 1e9 / classificationFlops)
  }

  private func measure(targets: [LoRATarget], rank: Int = 8, dropout: Float = 0, batch: Int? = nil, length: Int? = nil,
                       lastPositionOnly: Bool = false) throws -> [Double] {
    let batch = batch ?? self.batch, length = length ?? self.length
    let lora = LoRAParameters(model: model.config, lora: LoRAConfig(rank: rank, alpha: 16, dropout: dropout, targets: targets))
    var rng = SeededRNG(seed: 0)
    lora.initialize(using: &rng)
    let trainable = TrainableModel(base: model, lora: lora)
    let opt = AdamW(config: AdamWConfig(learningRate: 2e-4), parameterCount: lora.count)
    let v = model.config.vocabularySize
    func step() throws -> Double {
      let seqs = (0..<batch).map { _ -> TrainingSequence in
        let ids = (0..<length).map { _ in 100 + Int(rng.next() % UInt64(v - 100)) }
        if lastPositionOnly {
          return TrainingSequence(tokens: ids, targets: Array(repeating: -1, count: length - 1) + [100 + Int(rng.next() % 2)])
        }
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
