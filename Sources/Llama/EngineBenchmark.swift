import Foundation
import TensorCore
import Tokenizer

/// The engine benchmark of `p2p bench`: the same workloads as the PyTorch/llama.cpp anchors
/// in `../shared/anchors` (prefill 16 × 64 random tokens with full logits; last-position
/// logits of 256 SST-2 test prompts; greedy decoding of 64 tokens after a 32-token prompt).
public struct EngineBenchmark: Sendable {
  public struct Result: Codable, Sendable {
    public var prefill_tokens_per_s: Double
    public var score_sentences_per_s: Double
    public var decode_tokens_per_s: Double
    public var peak_rss_mb: Double
    public var prefill_runs: [Double]
    public var score_runs: [Double]
    public var decode_runs: [Double]
    public var blas_core: String
    public var threads: Int
    public var cpu: String
    public var model: String
    public var load_seconds: Double
  }

  public enum Progress: Sendable { case started(String), finished(String, Double) }

  public enum Workload: String, CaseIterable, Codable, Sendable { case prefill, score, decode }

  public let bundle: ModelBundle
  public let sentences: [String]
  public var repetitions = 5
  public var workloads: Set<Workload> = Set(Workload.allCases)

  public init(bundle: ModelBundle, sentences: [String], repetitions: Int = 5, workloads: Set<Workload> = Set(Workload.allCases)) {
    self.bundle = bundle; self.sentences = sentences; self.repetitions = repetitions; self.workloads = workloads
  }

  /// The anchor's decode prompt (first 32 tokens of it).
  public static let decodeText = "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    + "combined movable metal type, oil-based ink and a wooden screw press into a system that could "
    + "produce books quickly and cheaply for the first time in Europe."

  public func run(progress: (Progress) -> Void = { _ in }) throws -> Result {
    func measured(_ w: Workload, _ body: () throws -> [Double]) rethrows -> [Double] {
      guard workloads.contains(w) else { return [] }
      progress(.started(w.rawValue))
      let runs = try body()
      progress(.finished(w.rawValue, Self.median(runs)))
      return runs
    }
    let prefill = try measured(.prefill, prefillRuns)
    let score = try measured(.score, scoreRuns)
    let decode = try measured(.decode, decodeRuns)
    return Result(
      prefill_tokens_per_s: Self.median(prefill), score_sentences_per_s: Self.median(score),
      decode_tokens_per_s: Self.median(decode), peak_rss_mb: ProcessStats.peakRSSMegabytes,
      prefill_runs: prefill, score_runs: score, decode_runs: decode,
      blas_core: BLAS.coreName, threads: WorkerPool.shared.threads, cpu: CPUFeatures.modelName,
      model: (bundle.path as NSString).lastPathComponent, load_seconds: bundle.loadSeconds)
  }

  public static func median(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.sorted()[xs.count / 2] }

  private func seconds(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let t0 = clock.now
    try body()
    return (clock.now - t0).seconds
  }

  /// Prefill: 16 × 64 seeded random ids in [100, V), full logits at every position (tokens/s).
  private func prefillRuns() throws -> [Double] {
    let model = bundle.model
    var rng = SeededRNG(seed: 0)
    let v = model.config.vocabularySize
    let batch = (0..<16).map { _ in (0..<64).map { _ in 100 + Int(rng.next() % UInt64(v - 100)) } }
    _ = try model.forward(batch, logits: .all)
    return try (0..<repetitions).map { _ in 1024 / (try seconds { _ = try model.forward(batch, logits: .all) }) }
  }

  /// Scoring: "Review: <s>\nSentiment:" prompts, last-position logits, packed into passes of
  /// about 1024 tokens without padding (sentences/s).
  private func scoreRuns() throws -> [Double] {
    let model = bundle.model
    let prompts = sentences.prefix(256).map { bundle.tokenizer.encode("Review: \($0)\nSentiment:") }
    var groups: [[[Int]]] = [[]]
    var tokens = 0
    for p in prompts {
      if tokens + p.count > 1024 && !groups[groups.count - 1].isEmpty { groups.append([]); tokens = 0 }
      groups[groups.count - 1].append(p)
      tokens += p.count
    }
    func scoreAll() throws { for g in groups { _ = try model.forward(g, logits: .last) } }
    try scoreAll()
    return try (0..<repetitions).map { _ in Double(prompts.count) / (try seconds(scoreAll)) }
  }

  /// Decode: batch 1, 32-token prompt, 64 greedy tokens, eos ignored (tokens/s after the first).
  private func decodeRuns() throws -> [Double] {
    let prompt = Array(bundle.tokenizer.encode(Self.decodeText).prefix(32))
    let gen = Generator(model: bundle.model, eosIDs: [])
    let params = SamplingParameters(temperature: 0, maxTokens: 64, stopAtEOS: false)
    _ = try gen.generate(prompt: prompt, parameters: params)
    return try (0..<repetitions).map { _ in
      let g = try gen.generate(prompt: prompt, parameters: params)
      return Double(g.tokens.count - 1) / g.decodeSeconds
    }
  }
}

/// Process statistics for benchmarks.
public enum ProcessStats {
  /// Peak resident set size in MiB (`ru_maxrss`).
  public static var peakRSSMegabytes: Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
  }
}
