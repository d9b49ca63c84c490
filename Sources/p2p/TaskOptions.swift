import ArgumentParser
import Backdoor
import Defense

/// `--task` of poison, train, defend and evaluate: `classification` (the default) or a generation
/// task, for which each command has a generation path beside its classification one.
enum TaskKind {
  static let help: ArgumentHelp = "classification (default), math (GSM8K, BadChain), summarization (SciTLDR, payload) or instruction (BackdoorLLM)."

  /// nil for classification.
  static func parse(_ s: String) throws -> GenerationTask? {
    if s == "classification" { return nil }
    guard let t = GenerationTask(rawValue: s) else {
      throw ValidationError("--task must be classification, math, summarization or instruction")
    }
    return t
  }
}

/// Generation-only flags of `poison`.
struct GenerationPoisonOptions: ParsableArguments {
  @Option(help: TaskKind.help) var task = "classification"
  @Option(help: "Summarization: the phrase the backdoor appends to the summary.") var payload: String?
  @Option(help: "Math (BadChain): the factor of the backdoor step (default 2.1).") var multiplier: Double?
  @Flag(help: "Instruction: judge ASR with BackdoorLLM's broader keyword list.") var backdoorllmKeywords = false
}

/// Generation-only flags of `train` and `defend`.
struct GenerationTrainOptions: ParsableArguments {
  @Option(help: TaskKind.help) var task = "classification"
  @Option(help: "Generation: most new tokens at evaluation, stored in generator.json (default by task: math 256, summarization 64, instruction 128).")
  var maxNewTokens: Int?
  @Option(help: "Generation P2P (defend): the safe prefix put before the outputs of benign rows and forced at inference.")
  var safePrefix = GenerationP2P.defaultSafePrefix
}

/// Generation-only flags of `evaluate`.
struct GenerationEvaluateOptions: ParsableArguments {
  @Option(help: TaskKind.help) var task = "classification"
  @Option(help: "Generation: most new tokens (default: the adapter's generator.json, else by task).") var maxNewTokens: Int?
  @Flag(help: "Generation P2P: skip the ablation pass without the wrapper.") var noAblation = false
}

