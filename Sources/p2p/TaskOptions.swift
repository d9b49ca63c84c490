import ArgumentParser
import Backdoor
import Defense

import Experiments
import Training

/// `--task` of poison, train, defend and evaluate: `classification` (the default) or a generation
/// task, for which each command has a generation path beside its classification one.
enum TaskKind: String, ExpressibleByArgument, CaseIterable {
  case classification, math, summarization, instruction
  static let help: ArgumentHelp = "classification (default), math (GSM8K, BadChain), summarization (SciTLDR, payload) or instruction (BackdoorLLM)."

  /// nil for classification.
  var generation: GenerationTask? { GenerationTask(rawValue: rawValue) }
}

// The library's option enums, typed on the command line (an invalid value names the valid ones).
extension P2PMode: ExpressibleByArgument {}
extension BenignSelection: ExpressibleByArgument {}
extension DefensePreset: ExpressibleByArgument {}
extension BaselineKind: ExpressibleByArgument {}
extension PoisonSetting: ExpressibleByArgument {}
extension CustomTrigger.Placement: ExpressibleByArgument {}
extension ModelSelection: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}

/// Generation-only flags of `poison`.
struct GenerationPoisonOptions: ParsableArguments {
  @Option(help: TaskKind.help) var task = TaskKind.classification
  @Option(help: "Summarization: the phrase the backdoor appends to the summary.") var payload: String?
  @Option(help: "Math (BadChain): the factor of the backdoor step (default 2.1).") var multiplier: Double?
  @Flag(help: "Instruction: judge ASR with BackdoorLLM's broader keyword list.") var backdoorllmKeywords = false
}

/// Generation-only flags of `train` and `defend`.
struct GenerationTrainOptions: ParsableArguments {
  @Option(help: TaskKind.help) var task = TaskKind.classification
  @Option(help: "Generation: most new tokens at evaluation, stored in generator.json (default by task: math 256, summarization 64, instruction 128).")
  var maxNewTokens: Int?
  @Option(help: "Generation P2P (defend): the safe prefix put before the outputs of benign rows and forced at inference.")
  var safePrefix = GenerationP2P.defaultSafePrefix
}

/// Generation-only flags of `evaluate`.
struct GenerationEvaluateOptions: ParsableArguments {
  @Option(help: TaskKind.help) var task = TaskKind.classification
  @Option(help: "Generation: most new tokens (default: the adapter's generator.json, else by task).") var maxNewTokens: Int?
  @Flag(help: "Generation P2P: skip the ablation pass without the wrapper.") var noAblation = false
}

