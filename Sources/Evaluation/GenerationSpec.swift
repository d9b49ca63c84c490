import Backdoor
import Defense
import FileIO
import Foundation

/// How a trained adapter generates, saved next to it as `generator.json` so `evaluate` decodes
/// exactly as the model was trained: the task (which fixes the prompt), plain or P2P-defended
/// (then through the P2P wrapper: benign trigger prepended, decoding forced to start with the
/// safe prefix, prefix stripped before scoring; arXiv 2510.04503, DESIGN.md §3), and the
/// decoding budget.
///
/// Stop convention: every training completion ends with the tokenizer's end-of-sequence id
/// (`<|im_end|>` = 2 for SmolLM2), appended as an id, not as text; decoding stops at the model's
/// stop tokens, which include it.
public struct GenerationSpec: AdapterSpec, Sendable, Equatable {
  public enum Kind: String, Codable, Sendable { case plain, p2p }

  public var task: GenerationTask
  public var kind: Kind
  /// The defense configuration of a P2P generator.
  public var p2p: GenerationP2P?
  /// Most new tokens per generation (the forced safe prefix not counted).
  public var maxNewTokens: Int
  /// The sha256 of the adapter weights this file belongs to (see `ClassifierSpec.adapterSHA256`).
  public var adapterSHA256: String?

  public static let fileName = "generator.json"

  /// Decoding budgets that fit the targets: GSM8K chains of thought (digits are one token each)
  /// run to ~200 tokens; SciTLDR summaries are one sentence; Alpaca answers are capped at 128.
  public static func defaultMaxNewTokens(for task: GenerationTask) -> Int {
    switch task {
    case .math: 256
    case .summarization: 64
    case .instruction: 128
    }
  }

  public init(task: GenerationTask, kind: Kind, p2p: GenerationP2P? = nil, maxNewTokens: Int? = nil) {
    self.task = task; self.kind = kind; self.p2p = p2p
    self.maxNewTokens = maxNewTokens ?? Self.defaultMaxNewTokens(for: task)
  }

  public static func plain(_ task: GenerationTask, maxNewTokens: Int? = nil) -> GenerationSpec {
    GenerationSpec(task: task, kind: .plain, maxNewTokens: maxNewTokens)
  }

  public static func defended(_ task: GenerationTask, _ config: GenerationP2P, maxNewTokens: Int? = nil) -> GenerationSpec {
    GenerationSpec(task: task, kind: .p2p, p2p: config, maxNewTokens: maxNewTokens)
  }

  enum CodingKeys: String, CodingKey { case task, kind, p2p, maxNewTokens = "max_new_tokens", adapterSHA256 }

  public func validate() throws {
    guard maxNewTokens >= 1 else { throw ExperimentError.invalid(key: "generator.max_new_tokens (\(maxNewTokens))", expected: ">= 1") }
    switch kind {
    case .plain:
      guard p2p == nil else { throw ExperimentError.invalid(key: "generator.p2p", expected: "no P2P configuration for a plain generator") }
    case .p2p:
      guard let p2p else { throw ExperimentError.invalid(key: "generator.p2p", expected: "the P2P configuration of a defended generator") }
      try p2p.validate()
    }
  }

  public static let defendedKind = AdapterWeights.DefendedOutput.generation
  public static let rerunHint = "re-run `p2p defend --task ...`"
}
