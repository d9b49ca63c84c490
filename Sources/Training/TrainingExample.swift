/// One supervised fine-tuning example: the text the model reads (`prompt`) and the text it must
/// learn to produce (`completion`); the loss is computed on the completion only. This is the
/// row format of a `{"prompt": ..., "completion": ...}` JSONL file (as read by TRL's
/// `SFTTrainer` for prompt–completion datasets); `JSONLReader` reads and validates it.
///
/// The prompt is used verbatim (a chat template, if any, is applied before writing the file),
/// and the completion is appended to it with no separator: put any space or newline in the text.
public struct PromptCompletion: Codable, Sendable, Equatable, Hashable {
  /// The model input (may be empty: plain language modelling of the completion).
  public var prompt: String
  /// The target output (never empty once validated: there would be nothing to learn).
  public var completion: String

  public init(prompt: String, completion: String) { self.prompt = prompt; self.completion = completion }
}
