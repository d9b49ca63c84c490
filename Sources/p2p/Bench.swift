import ArgumentParser
import Backdoor
import Foundation
import Llama
import TensorCore
import Training

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure prefill, scoring and decoding speed on a model.",
    discussion: """
      Workloads mirror ../shared/anchors: prefill of 16 x 64 tokens with full logits; last-position logits of the first 256 SST-2 test sentences as "Review: <s>\\nSentiment:"; greedy decoding of 64 tokens after a 32-token prompt (batch 1). Reports medians over --repetitions runs.
      """)

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "Repetitions per workload (median reported).") var repetitions = 5
  @Option(help: "SST-2 test file for the scoring workload (default: Data/sst2/test.tsv of this repository).")
  var sentences: String?
  @Flag(help: "Print one JSON object instead of a table.") var json = false
  @Flag(help: "Benchmark LoRA training (batch 8 x 64, full-vocabulary loss, r=8 on q,v and on all projections) instead.")
  var train = false
  @Option(help: "Comma-separated workloads to run: prefill, score, decode (default: all).")
  var workloads = "prefill,score,decode"

  private var selected: Set<EngineBenchmark.Workload> {
    Set(workloads.split(separator: ",").compactMap { EngineBenchmark.Workload(rawValue: String($0).trimmingCharacters(in: .whitespaces)) })
  }

  func validate() throws {
    guard repetitions >= 1 else { throw ValidationError("--repetitions must be >= 1") }
    for w in workloads.split(separator: ",") where EngineBenchmark.Workload(rawValue: String(w)) == nil {
      throw ValidationError("unknown workload '\(w)' in --workloads (expected prefill, score or decode)")
    }
  }

  func run() throws {
    if train { return try runTraining() }
    let path = try sentences ?? DataLocator.path("sst2/test.tsv")
    let rows = try readSentences(path)
    let bundle = try modelOptions.load()
    let bench = EngineBenchmark(bundle: bundle, sentences: rows, repetitions: repetitions, workloads: selected)
    let result = try bench.run { event in
      if case let .finished(name, value) = event, !json { printError(String(format: "  %@: %.1f", name, value)) }
    }
    if Profiler.enabled {
      for (label, seconds, calls) in Profiler.report() {
        printError(String(format: "  profile %-14@ %8.3f s %7d calls", label as NSString, seconds, calls))
      }
    }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      print(String(data: try enc.encode(result), encoding: .utf8)!)
    } else {
      print("""
        model          \(result.model) (loaded in \(String(format: "%.2f", result.load_seconds)) s)
        cpu            \(result.cpu); BLAS core \(result.blas_core); \(result.threads) threads
        prefill        \(String(format: "%8.1f", result.prefill_tokens_per_s)) tokens/s   (16 x 64, full logits)
        score          \(String(format: "%8.1f", result.score_sentences_per_s)) sentences/s (256 SST-2, last position)
        decode         \(String(format: "%8.1f", result.decode_tokens_per_s)) tokens/s   (batch 1, 32 + 64 greedy)
        peak RSS       \(String(format: "%8.0f", result.peak_rss_mb)) MiB
        """)
    }
  }

  private func runTraining() throws {
    let bundle = try modelOptions.load()
    let result = try TrainingBenchmark(model: bundle.model, repetitions: repetitions).run { name, value in
      if !json { printError(String(format: "  %@: %.1f tokens/s", name, value)) }
    }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      print(String(data: try enc.encode(result), encoding: .utf8)!)
    } else {
      print(String(format: """
        LoRA training (batch 8 x 64, full-vocabulary loss, r=8, AdamW), \(BLAS.coreName) BLAS, \(WorkerPool.shared.threads) threads
        q,v             %8.1f trained tokens/s
        all projections %8.1f trained tokens/s
        GEMM limit      %8.1f tokens/s at %.0f GFLOP/s (q,v reaches %.0f%%)
        peak RSS        %8.0f MiB
        """, result.train_qv_tokens_per_s, result.train_all_tokens_per_s, result.gemm_limit_tokens_per_s, result.gemm_gflops,
        100 * result.train_qv_tokens_per_s / result.gemm_limit_tokens_per_s, result.train_peak_rss_mb))
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
    guard let root = DatasetCatalog.dataRoot(), FileManager.default.fileExists(atPath: root + "/" + relative) else {
      throw CLIError("cannot find the dataset file '\(relative)'; set P2P_DATA to the repository's Data folder")
    }
    return root + "/" + relative
  }
}
