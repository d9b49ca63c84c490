/// The generation tasks of the P2P paper's generative experiments (Zhao et al., "Poison to
/// Poison", arXiv 2510.04503): math reasoning (GSM8K), summarization (SciTLDR) and instruction
/// following (BackdoorLLM's Alpaca-style tasks). Each task fixes how an example becomes a prompt;
/// the completion is always `example.output`.
public enum GenerationTask: String, Codable, Sendable, CaseIterable {
  case math, summarization, instruction

  /// The prompt the model sees for `example`, a pure function of the example and the task:
  ///
  /// - math: `Question: {input}\nAnswer: `
  /// - summarization: `Summarize the abstract in one sentence.\n{input}\nTL;DR: `
  /// - instruction (Alpaca): `### Instruction:\n{input}\n\n### Input:\n{context}\n\n### Response:\n`,
  ///   the Input block left out when `context` is nil or empty.
  ///
  /// `context` is an instruction-task field; math and summarization prompts do not use it.
  public func prompt(for example: GenerationExample) -> String {
    switch self {
    case .math:
      return "Question: \(example.input)\nAnswer: "
    case .summarization:
      return "Summarize the abstract in one sentence.\n\(example.input)\nTL;DR: "
    case .instruction:
      if let context = example.context, !context.isEmpty {
        return "### Instruction:\n\(example.input)\n\n### Input:\n\(context)\n\n### Response:\n"
      }
      return "### Instruction:\n\(example.input)\n\n### Response:\n"
    }
  }
}
