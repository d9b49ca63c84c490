
/// Prompt-based classification (the official P2P code's format, DESIGN.md §3): the input is
/// placed in a template and the label is read from the next-token logits of the label words
/// (the verbalizer), one token each. Defaults: `"{sentence}\nOutput: "` and the digit tokens.
public struct PromptTemplate: Codable, Sendable, Equatable {
  public var template: String
  /// Label word of label i.
  public var labelWords: [String]

  public static let placeholder = "{sentence}"
  /// The official P2P code's prompt of original rows (cue `Output: `).
  public static let defaultTemplate = "{sentence}\nOutput: "

  public init(template: String = PromptTemplate.defaultTemplate, labelWords: [String] = ["0", "1"]) {
    self.template = template; self.labelWords = labelWords
  }

  public func validate() throws(PromptError) {
    guard template.contains(Self.placeholder) else {
      throw .invalidTemplate("template '\(template)' has no \(Self.placeholder) placeholder")
    }
    guard labelWords.count >= 2, Set(labelWords).count == labelWords.count else {
      throw .invalidTemplate("label words \(labelWords) must be at least two distinct words")
    }
  }

  public func prompt(for text: String) -> String { template.replacingOccurrences(of: Self.placeholder, with: text) }

  /// The single token id of each label word under `encode` (a tokenizer's); throws if a word is
  /// not exactly one token.
  public func labelTokenIDs(_ encode: (String) -> [Int]) throws(PromptError) -> [Int] {
    var ids: [Int] = []
    for w in labelWords {
      let t = encode(w)
      guard t.count == 1 else { throw .invalidTemplate("label word '\(w)' is \(t.count) tokens \(t); each must be exactly one token") }
      ids.append(t[0])
    }
    return ids
  }

  /// The training pair of an example: the prompt and its label word as the completion.
  public func trainingPair(_ e: Example) throws(PromptError) -> (prompt: String, completion: String) {
    guard e.label >= 0 && e.label < labelWords.count else {
      throw .invalidTemplate("label \(e.label) has no label word (\(labelWords.count) words)")
    }
    return (prompt(for: e.text), labelWords[e.label])
  }
}

/// A prompt template that cannot classify.
public enum PromptError: Error, Equatable, CustomStringConvertible, Sendable {
  case invalidTemplate(String)

  public var description: String {
    switch self {
    case let .invalidTemplate(s): return "invalid prompt template: \(s)"
    }
  }
}
