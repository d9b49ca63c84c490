/// One prompt–completion example of a generation task, with its provenance in a poisoning
/// experiment. The prompt is rendered by `GenerationTask.prompt(for:)`; `output` is the target
/// completion the model is trained on.
///
/// JSON keys: `input`, `output`, `poisoned`, `source_index`, and, when present, `context` and
/// `reference`.
public struct GenerationExample: Codable, Sendable, Equatable, Hashable {
  /// The question (math), the abstract (summarization) or the instruction (instruction tasks).
  /// Attack triggers and the P2P benign trigger are inserted here.
  public var input: String
  /// Instruction tasks only: Alpaca's optional `input` (the material the instruction is about).
  /// Kept apart from the instruction because instructions may themselves contain blank lines, so
  /// a joined string could not be split back into the two prompt blocks (12 of BackdoorLLM's
  /// Alpaca instructions do). An empty context is written as absent.
  public var context: String?
  /// The completion trained on (reasoning + "The answer is N.", a summary, a response).
  public var output: String
  /// Gold reference for scoring, independent of `output` (which an attack may change).
  public var reference: GenerationReference?
  /// Whether an attack changed this row.
  public var poisoned: Bool
  /// Row index in the source file (0-based, blank lines not counted).
  public var sourceIndex: Int?

  public init(input: String, context: String? = nil, output: String, reference: GenerationReference? = nil,
              poisoned: Bool = false, sourceIndex: Int? = nil) {
    self.input = input; self.context = context; self.output = output; self.reference = reference
    self.poisoned = poisoned; self.sourceIndex = sourceIndex
  }

  enum CodingKeys: String, CodingKey { case input, context, output, reference, poisoned, sourceIndex = "source_index" }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    input = try c.decode(String.self, forKey: .input)
    context = try c.decodeIfPresent(String.self, forKey: .context)
    output = try c.decode(String.self, forKey: .output)
    reference = try c.decodeIfPresent(GenerationReference.self, forKey: .reference)
    poisoned = try c.decodeIfPresent(Bool.self, forKey: .poisoned) ?? false
    sourceIndex = try c.decodeIfPresent(Int.self, forKey: .sourceIndex)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(input, forKey: .input)
    if let context, !context.isEmpty { try c.encode(context, forKey: .context) }
    try c.encode(output, forKey: .output)
    try c.encodeIfPresent(reference, forKey: .reference)
    try c.encode(poisoned, forKey: .poisoned)
    try c.encodeIfPresent(sourceIndex, forKey: .sourceIndex)
  }

  /// The references ROUGE compares a generation with: the reference summaries when there are
  /// some, otherwise the output.
  public var rougeReferences: [String] {
    if case let .summaries(list)? = reference, !list.isEmpty { return list }
    return [output]
  }
}

/// The gold answer of an example, kept apart from the (possibly poisoned) output. In JSON a
/// math answer is a string (`"reference": "72"`) and reference summaries are an array of strings.
public enum GenerationReference: Codable, Sendable, Hashable {
  /// The final answer of a math problem as a plain decimal number: commas removed ("1080", "-7").
  case answer(String)
  /// Reference summaries (SciTLDR: author and peer-review TLDRs); ROUGE takes the best of them.
  case summaries([String])

  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let s = try? c.decode(String.self) { self = .answer(s); return }
    self = .summaries(try c.decode([String].self))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case let .answer(s): try c.encode(s)
    case let .summaries(list): try c.encode(list)
    }
  }

  /// The math answer, when this is one.
  public var answer: String? { if case let .answer(s) = self { s } else { nil } }
}
