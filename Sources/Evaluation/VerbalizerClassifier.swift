import Backdoor
import Llama
import Tokenizer

/// Classifies texts with a causal LM: the template's prompt is scored and the prediction is the
/// label word with the largest next-token logit (restricted scoring: only the label words'
/// logits are computed). Prompts are packed ~1024 tokens a pass, without padding.
public struct VerbalizerClassifier: Sendable {
  public let model: LlamaModel
  public let tokenizer: BPETokenizer
  public let template: PromptTemplate
  public let labelIDs: [Int]

  public init(model: LlamaModel, tokenizer: BPETokenizer, template: PromptTemplate) throws(EvaluationError) {
    try template.validate()
    self.model = model; self.tokenizer = tokenizer; self.template = template
    labelIDs = try template.labelTokenIDs(tokenizer)
  }

  /// Label-word logits (rows × labels) for each text.
  public func scores(_ texts: [String], progress: (Int) -> Void = { _ in }) throws -> [[Float]] {
    var out: [[Float]] = []
    var group: [[Int]] = [], tokens = 0
    func flush() throws {
      guard !group.isEmpty else { return }
      let logits = try model.forward(group, logits: LogitsRequest(positions: .last, tokens: labelIDs))
      for r in 0..<logits.rows { out.append(Array(logits.row(r))) }
      group = []; tokens = 0
      progress(out.count)
    }
    for t in texts {
      let ids = tokenizer.encode(template.prompt(for: t))
      guard !ids.isEmpty else { throw EvaluationError.emptyInput("a text encodes to no tokens") }
      if tokens + ids.count > 1024 { try flush() }
      group.append(ids); tokens += ids.count
    }
    try flush()
    return out
  }

  /// Predicted label index for each text.
  public func predict(_ texts: [String], progress: (Int) -> Void = { _ in }) throws -> [Int] {
    try scores(texts, progress: progress).map { Sampler.argmax($0) }
  }
}
