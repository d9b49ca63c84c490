import ArgumentParser
import Backdoor
import Foundation
import GGUF
import Llama
import TensorCore
import Training

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure prefill, scoring and decoding speed on a model (with --train: LoRA training steps).",
    discussion: """
      Workloads mirror ../shared/anchors: prefill of 16 x 64 tokens with full logits; last-position logits of the first 256 SST-2 test sentences as "Review: <s>\\nSentiment:"; greedy decoding of 64 tokens after a 32-token prompt (batch 1). Reports medians over --repetitions runs.
      """)

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "Repetitions per workload (median reported).") var repetitions = 5
  @Option(help: "SST-2 test file for the scoring workload (default: Data/sst2/test.tsv of this repository).")
  var sentences: String?
  @Flag(help: "Print one JSON object instead of a table.") var json = false
  @Flag(help: "Benchmark LoRA training (batch 8 x 64, full-vocabulary loss, r=8 on q,v and on all projections; and the classification shape 32 x 29, last-position loss, r=16, dropout 0.1 on q,v) instead.")
  var train = false
  @Option(help: "Comma-separated workloads to run: prefill, score, decode; with --train: qv, all, classification (default: all of them).")
  var workloads: String?
  @Option(help: """
    Write a GGUF file of random weights at a real shape (qwen3-0.6b, llama-3.2-1b, qwen3-8b) to --synthetic-out, with \
    the default model's tokenizer padded to the shape's vocabulary, and exit; then bench it with --model.
    """)
  var writeSynthetic: String?
  @Option(help: "The file --write-synthetic writes (must not exist).") var syntheticOut: String?
  @Option(help: "The type of the synthetic file's projections and embeddings: q4_0, q4_k or f32.") var syntheticType = "q4_0"

  /// The workloads of kind W named in --workloads (all of them when it is absent) and the first
  /// name that is not one of them.
  private func chosen<W: CaseIterable & Hashable & RawRepresentable>(_: W.Type) -> (workloads: Set<W>, unknown: String?)
  where W.RawValue == String {
    guard let workloads else { return (Set(W.allCases), nil) }
    let names = workloads.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    return (Set(names.compactMap(W.init(rawValue:))), names.first { W(rawValue: $0) == nil })
  }

  func validate() throws {
    guard repetitions >= 1 else { throw ValidationError("--repetitions must be >= 1") }
    if let w = train ? chosen(TrainingBenchmark.Workload.self).unknown : chosen(EngineBenchmark.Workload.self).unknown {
      throw ValidationError(train ? "unknown training workload '\(w)' in --workloads (expected qv, all or classification)"
        : "unknown workload '\(w)' in --workloads (expected prefill, score or decode; qv, all and classification need --train)")
    }
    if train ? chosen(TrainingBenchmark.Workload.self).workloads.isEmpty : chosen(EngineBenchmark.Workload.self).workloads.isEmpty {
      throw ValidationError("--workloads is empty")
    }
  }

  func run() throws {
    if let name = writeSynthetic {
      guard let shape = SyntheticModel.shapes.first(where: { $0.name == name }) else {
        throw CLIError("unknown shape '\(name)' (expected \(SyntheticModel.shapes.map(\.name).joined(separator: ", ")))")
      }
      guard let out = syntheticOut else { throw CLIError("--write-synthetic needs --synthetic-out FILE") }
      guard !FileManager.default.fileExists(atPath: out) else { throw CLIError("will not write to '\(out)': it exists") }
      guard let type = ["q4_0": GGMLType.q4_0, "q4_k": .q4_K, "f32": .f32][syntheticType] else { throw CLIError("--synthetic-type must be q4_0, q4_k or f32") }
      do {
        try SyntheticModel.write(shape, type: type, tokenizerSource: try GGUFFile(path: try ModelStore.resolve(ModelStore.defaultModel)), to: out)
      } catch { throw CLIError("\(error)") }
      printError("wrote \(out): \(shape.name), \(shape.parameters) parameters, \(syntheticType)")
      return
    }
    if train { return try runTraining() }
    let path = try sentences ?? DataLocator.path("sst2/test.tsv")
    let rows = try readSentences(path)
    let bundle = try modelOptions.load()
    let bench = EngineBenchmark(bundle: bundle, sentences: rows, repetitions: repetitions, workloads: chosen(EngineBenchmark.Workload.self).workloads)
    let result = try bench.run { event in
      if case let .finished(name, value) = event, !json { printError(String(format: "  %@: %.1f", name, value)) }
    }
    try report(result) {
      """
      model          \(result.model) (loaded in \(String(format: "%.2f", result.load_seconds)) s)
      cpu            \(result.cpu); BLAS core \(result.blas_core); \(result.threads) threads
      prefill        \(String(format: "%8.1f", result.prefill_tokens_per_s)) tokens/s   (16 x 64, full logits)
      score          \(String(format: "%8.1f", result.score_sentences_per_s)) sentences/s (256 SST-2, last position)
      decode         \(String(format: "%8.1f", result.decode_tokens_per_s)) tokens/s   (batch 1, 32 + 64 greedy)
      peak RSS       \(String(format: "%8.0f", result.peak_rss_mb)) MiB
      """
    }
  }

  private func runTraining() throws {
    let bundle = try modelOptions.load()
    let bench = TrainingBenchmark(model: bundle.model, repetitions: repetitions, workloads: chosen(TrainingBenchmark.Workload.self).workloads)
    let result = try bench.run { name, value in
      if !json { printError(String(format: "  %@: %.1f tokens/s", name, value)) }
    }
    try report(result) {
      var lines = ["LoRA training (AdamW), \(BLAS.coreName) BLAS, \(WorkerPool.shared.threads) threads, GEMM at "
        + String(format: "%.0f GFLOP/s", result.gemm_gflops)]
      func line(_ name: String, _ value: Double?, _ limit: Double, _ shape: String) {
        guard let value else { return }
        lines.append(String(format: "%@ %8.1f trained tokens/s (%.0f%% of the GEMM limit %.0f; %@)",
                            name.padding(toLength: 15, withPad: " ", startingAt: 0), value, 100 * value / limit, limit, shape))
      }
      line("q,v", result.train_qv_tokens_per_s, result.gemm_limit_tokens_per_s, "8 x 64, full-vocabulary loss, r=8")
      line("all projections", result.train_all_tokens_per_s, result.gemm_limit_tokens_per_s, "8 x 64, full-vocabulary loss, r=8")
      line("classification", result.train_classification_tokens_per_s, result.classification_gemm_limit_tokens_per_s,
           "32 x 29, last-position loss, r=16, dropout 0.1, q,v")
      lines.append(String(format: "peak RSS        %8.0f MiB", result.train_peak_rss_mb))
      return lines.joined(separator: "\n")
    }
  }

  /// The per-stage profile (when `P2P_PROFILE=1`), then `result` as one JSON object with --json,
  /// else the table `table` renders.
  private func report<Result: Encodable>(_ result: Result, table: () -> String) throws {
    printProfile()
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      print(String(data: try enc.encode(result), encoding: .utf8)!)
    } else {
      print(table())
    }
  }

  /// Per-stage wall time when `P2P_PROFILE=1`, to standard error.
  private func printProfile() {
    guard Profiler.enabled else { return }
    for (label, seconds, calls) in Profiler.report() {
      printError(String(format: "  profile %-20@ %8.3f s %7d calls", label as NSString, seconds, calls))
    }
  }

  private func readSentences(_ path: String) throws -> [String] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw CLIError("cannot read the scoring sentences from '\(path)' (a TSV with a 'sentence<TAB>label' header)")
    }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: true).dropFirst()
    let rows = lines.map { String($0.split(separator: "\t", maxSplits: 1).first ?? "") }
    guard rows.count >= 1 else { throw CLIError("'\(path)' has no data rows") }
    return rows
  }
}

/// Finds the datasets shipped in this repository's `Data/` folder: `$P2P_DATA`, then
/// `./Data`, then `Data/` next to the checkout that built the executable.
enum DataLocator {
  static func path(_ relative: String) throws -> String {
    guard let root = DataRoot.find(), FileManager.default.fileExists(atPath: root + "/" + relative) else {
      throw CLIError("cannot find the dataset file '\(relative)'; set P2P_DATA to the repository's Data folder")
    }
    return root + "/" + relative
  }
}
