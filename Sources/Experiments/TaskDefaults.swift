import Backdoor
import Training

/// The training defaults of each kind of task, in one place: the grid (`ExperimentPlan`) and the CLI (`p2p train`, `p2p defend`) start from these before any key or
/// flag. The rest are `TrainingConfig`'s (LoRA r=16, alpha 16, dropout 0.1 on q,v; lr 2e-4).
public enum TaskDefaults {
  public enum Kind: Sendable, Equatable {
    /// Prompt-based classification: batch 32, as the official P2P code.
    case classification
    /// A generation task: batch 8 and the task's maximum length.
    case generation(GenerationTask)
    /// `p2p train` on a prompt/completion JSONL file: `TrainingConfig`'s defaults.
    case promptCompletion
  }

  public static let classificationBatchSize = 32

  /// Default maximum sequence length of a generation task's training rows: a GSM8K question +
  /// chain of thought, a SciTLDR abstract + summary, an Alpaca instruction + answer (digits are
  /// single tokens).
  public static func maxLength(for task: GenerationTask) -> Int {
    switch task {
    case .math: 320
    case .summarization: 512
    case .instruction: 384
    }
  }

  public static func training(_ kind: Kind) -> TrainingConfig {
    var c = TrainingConfig()
    switch kind {
    case .classification: c.batchSize = classificationBatchSize
    case let .generation(task): c.maxLength = maxLength(for: task)
    case .promptCompletion: break
    }
    return c
  }
}
