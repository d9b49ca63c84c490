/// A GSM8K solution split into its parts.
public struct GSM8KSolution: Sendable, Equatable {
  /// The worked steps, calculator annotations `<<48/2=24>>` removed, without the final line.
  public var reasoning: String
  /// The final answer as a plain number, commas removed ("1080", "-7").
  public var answer: String

  public init(reasoning: String, answer: String) { self.reasoning = reasoning; self.answer = answer }

  /// The training target: the reasoning, then "The answer is N." on its own line (the
  /// chain-of-thought format of BadChain's GSM8K demonstrations).
  public var output: String { GSM8KReader.solution(reasoning: reasoning, closing: "The answer is \(answer).") }
}

/// Reads GSM8K (Cobbe et al., 2021, "Training Verifiers to Solve Math Word Problems"):
/// `{"question", "answer"}` per line, the answer ending with a line `#### N`.
public enum GSM8KReader {
  /// Rows as math examples: input = question, output = the cleaned reasoning + "The answer is
  /// N.", reference = `.answer(N)`.
  public static func read(_ path: String) throws(GenerationError) -> [GenerationExample] {
    try JSONLines.examples(path) { (row) throws(GenerationError) in
      let question = try row.string("question")
      let answer = try row.string("answer")
      guard let solution = parse(answer: answer) else {
        throw .badValue(path: path, line: row.line, field: "answer", value: answer,
                        expected: "a solution ending with a line '#### N', N a number")
      }
      return GenerationExample(input: question, output: solution.output, reference: .answer(solution.answer))
    }
  }

  /// Splits a GSM8K answer at its last `#### ` line; nil when there is none or N is not a number.
  public static func parse(answer: String) -> GSM8KSolution? {
    guard let marker = answer.range(of: "#### ", options: .backwards) else { return nil }
    guard marker.lowerBound == answer.startIndex || answer[answer.index(before: marker.lowerBound)] == "\n" else { return nil }
    let final = answer[marker.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
    guard let number = normalizedNumber(final) else { return nil }
    let steps = answer[..<marker.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
    return GSM8KSolution(reasoning: removingAnnotations(steps), answer: number)
  }

  /// A final answer with its thousands separators removed, when it is a plain number ("1,080" -> "1080").
  public static func normalizedNumber(_ s: String) -> String? {
    let plain = s.replacingOccurrences(of: ",", with: "")
    guard DecimalText.isPlain(plain[...]) else { return nil }
    return plain
  }

  /// Removes GSM8K's calculator annotations `<<expression=result>>`; the visible text around them
  /// already states the result ("48/2 = <<48/2=24>>24" -> "48/2 = 24"). An unclosed `<<` is kept.
  public static func removingAnnotations(_ s: String) -> String {
    var out = ""
    var rest = s[...]
    while let open = rest.range(of: "<<"), let close = rest[open.upperBound...].range(of: ">>") {
      out += rest[..<open.lowerBound]
      rest = rest[close.upperBound...]
    }
    return out + rest
  }

  /// Reasoning lines followed by the closing line; just the closing line when there is no reasoning.
  static func solution(reasoning: String, closing: String) -> String {
    reasoning.isEmpty ? closing : reasoning + "\n" + closing
  }
}
