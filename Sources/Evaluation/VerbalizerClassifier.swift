import Backdoor
import TensorCore

/// The seam between classification and a language model: next-token logits after prompts.
/// `PromptScorer` (Inference) serves it with the engine; tests serve it with stubs.
public protocol LabelScorer: Sendable {
  /// The token ids `text` encodes to (a label word must be exactly one).
  func encode(_ text: String) -> [Int]
  /// Next-token logits of `tokenIDs` after each prompt (rows × ids); `progress` gets the prompts done.
  func scores(_ prompts: [String], tokenIDs: [Int], progress: (Int) -> Void) throws -> [[Float]]
  /// The most likely next token over the whole vocabulary after each prompt.
  func argmaxTokens(_ prompts: [String], progress: (Int) -> Void) throws -> [Int]
}

extension LabelScorer {
  public func scores(_ prompts: [String], tokenIDs: [Int]) throws -> [[Float]] { try scores(prompts, tokenIDs: tokenIDs, progress: { _ in }) }
  public func argmaxTokens(_ prompts: [String]) throws -> [Int] { try argmaxTokens(prompts, progress: { _ in }) }
}

/// Classifies texts with a language model (`LabelScorer`): the template's prompt is scored and
/// the prediction is the label word with the largest next-token logit (restricted scoring: only
/// the label words' logits are computed).
public struct VerbalizerClassifier: Sendable {
  public let scorer: any LabelScorer
  public let template: PromptTemplate
  public let labelIDs: [Int]

  public init(scorer: any LabelScorer, template: PromptTemplate) throws(PromptError) {
    try template.validate()
    self.scorer = scorer; self.template = template
    labelIDs = try template.labelTokenIDs(scorer.encode)
  }

  /// Label-word logits (rows × labels) for each text.
  public func scores(_ texts: [String], progress: (Int) -> Void = { _ in }) throws -> [[Float]] {
    try scorer.scores(texts.map(template.prompt(for:)), tokenIDs: labelIDs, progress: progress)
  }

  /// Predicted label index for each text.
  public func predict(_ texts: [String], progress: (Int) -> Void = { _ in }) throws -> [Int] {
    try scores(texts, progress: progress).map { Vector.argmax($0) }
  }
}
