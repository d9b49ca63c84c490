/// The readers of the generation datasets' files beside GSM8K's (`GSM8KReader`): each row a `GenerationExample`.

/// Reads Alpaca-style instruction data (`{"instruction", "input", "output"}` per line), the
/// format of BackdoorLLM's files (Li et al., 2024, "BackdoorLLM: A Comprehensive Benchmark for
/// Backdoor Attacks on Large Language Models").
public enum InstructionReader {
  /// Rows as instruction examples: input = `instruction`, context = Alpaca's `input` (nil when
  /// absent or empty), output = `output`. `instruction` and `output` must be non-empty strings.
  public static func read(_ path: String) throws(GenerationError) -> [GenerationExample] {
    try JSONLines.examples(path) { (row) throws(GenerationError) in
      let instruction = try row.string("instruction")
      let context = try row.optionalString("input")
      return GenerationExample(input: instruction, context: context?.isEmpty == false ? context : nil, output: try row.string("output"))
    }
  }
}

/// Reads SciTLDR (Cachola et al., Findings of EMNLP 2020), abstract-only variant, as normalized in
/// the project's shared data: `{"id", "title", "document", "summary", "references"}` per line.
public enum SciTLDRReader {
  /// Rows as summarization examples: input = the abstract (`document`), output = `summary`,
  /// reference = `.summaries(references)`. A row without `references` uses `[summary]`; a
  /// present `references` must be a non-empty array of non-empty strings.
  public static func read(_ path: String) throws(GenerationError) -> [GenerationExample] {
    try JSONLines.examples(path) { (row) throws(GenerationError) in
      let document = try row.string("document")
      let summary = try row.string("summary")
      return GenerationExample(input: document, output: summary, reference: .summaries(try row.optionalStrings("references") ?? [summary]))
    }
  }
}
