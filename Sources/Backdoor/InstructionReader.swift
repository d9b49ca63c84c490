/// Reads Alpaca-style instruction data (`{"instruction", "input", "output"}` per line), the
/// format of BackdoorLLM's files (Li et al., 2024, "BackdoorLLM: A Comprehensive Benchmark for
/// Backdoor Attacks on Large Language Models").
public enum InstructionReader {
  /// Rows as instruction examples: input = `instruction`, context = Alpaca's `input` (nil when
  /// absent or empty), output = `output`. `instruction` and `output` must be non-empty strings.
  public static func read(_ path: String) throws(GenerationError) -> [GenerationExample] {
    var out: [GenerationExample] = []
    for row in try JSONLines.rows(path) {
      let instruction = try row.string("instruction")
      let context = try row.optionalString("input")
      let output = try row.string("output")
      out.append(GenerationExample(input: instruction, context: context?.isEmpty == false ? context : nil,
                                   output: output, sourceIndex: out.count))
    }
    return out
  }
}
