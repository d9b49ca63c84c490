import Evaluation
import Llama
import Tokenizer

/// The engine behind `LabelScorer`: scores prompts with the causal LM at their last position,
/// ~1024 packed tokens a pass without padding, either restricted to given token ids (a
/// verbalizer) or as the argmax over the whole vocabulary.
public struct PromptScorer: LabelScorer {
  public let model: LlamaModel
  public let tokenizer: BPETokenizer
  public static let tokensPerPass = 1024

  public init(model: LlamaModel, tokenizer: BPETokenizer) { self.model = model; self.tokenizer = tokenizer }

  public init(_ bundle: ModelBundle) { self.init(model: bundle.model, tokenizer: bundle.tokenizer) }

  public func encode(_ text: String) -> [Int] { tokenizer.encode(text) }

  /// Next-token logits of `tokenIDs` (rows × ids) after each prompt. `progress` gets the number
  /// of prompts done.
  public func scores(_ prompts: [String], tokenIDs: [Int], progress: (Int) -> Void = { _ in }) throws -> [[Float]] {
    try run(prompts, request: LogitsRequest(positions: .last, tokens: tokenIDs), progress: progress) { Array($0) }
  }

  /// The most likely next token over the whole vocabulary after each prompt.
  public func argmaxTokens(_ prompts: [String], progress: (Int) -> Void = { _ in }) throws -> [Int] {
    try run(prompts, request: LogitsRequest(positions: .last), progress: progress) { Sampler.argmax(Array($0)) }
  }

  private func run<T>(_ prompts: [String], request: LogitsRequest, progress: (Int) -> Void,
                      _ reduce: (ArraySlice<Float>) -> T) throws -> [T] {
    var out: [T] = []
    out.reserveCapacity(prompts.count)
    var group: [[Int]] = [], tokens = 0
    func flush() throws {
      guard !group.isEmpty else { return }
      let logits = try model.forward(group, logits: request)
      for r in 0..<logits.rows { out.append(reduce(logits.row(r))) }
      group = []; tokens = 0
      progress(out.count)
    }
    for p in prompts {
      let ids = tokenizer.encodeInput(p)
      guard !ids.isEmpty else { throw EvaluationError.emptyInput("a prompt encodes to no tokens") }
      if tokens + ids.count > Self.tokensPerPass { try flush() }
      group.append(ids); tokens += ids.count
    }
    try flush()
    return out
  }
}

