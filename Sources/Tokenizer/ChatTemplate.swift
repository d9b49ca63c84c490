import GGUF

/// ChatML prompt rendering, identical to transformers' `apply_chat_template(messages,
/// tokenize=False, add_generation_prompt:)` for ChatML templates such as SmolLM2's:
///
///     {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}
///     {{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging
///     Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' +
///     message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}
///     {{ '<|im_start|>assistant\n' }}{% endif %}
///
/// This is not a Jinja interpreter. The template (`tokenizer.chat_template`) must use the ChatML
/// markers; its default system prompt, if any, is read from the template itself: the first string
/// literal `'<|im_start|>system\n...<|im_end|>'` whose body is plain text (no expression). It is
/// inserted before the first message when that message is not a system message (and there is at
/// least one message, as the Jinja loop runs only then).
public struct ChatTemplate: Sendable, Equatable {
  public static let key = "tokenizer.chat_template"
  public static let start = "<|im_start|>"
  public static let end = "<|im_end|>"

  /// The template source as stored in the file.
  public let source: String
  /// The system prompt inserted when the conversation does not start with one, nil for none.
  public let defaultSystemPrompt: String?

  /// Reads `tokenizer.chat_template` from `gguf`.
  public init(gguf: GGUFFile) throws(TokenizerError) {
    guard let value = gguf.metadata[Self.key] else { throw .missingKey(Self.key) }
    guard let source = value.string else { throw .wrongValueType(key: Self.key, expected: "string", found: value.typeName) }
    try self.init(template: source)
  }

  /// Parses a template source (the value of `tokenizer.chat_template`).
  public init(template: String) throws(TokenizerError) {
    guard template.contains(Self.start) && template.contains(Self.end) else {
      throw .unsupportedChatTemplate(key: Self.key, reason: "no ChatML markers \(Self.start) and \(Self.end)")
    }
    guard template.contains("message['content']") || template.contains("message[\"content\"]")
      || template.contains("message.content") else {
      throw .unsupportedChatTemplate(key: Self.key, reason: "the template does not render message['content']")
    }
    source = template
    defaultSystemPrompt = Self.literalSystemPrompt(in: template)
  }

  /// The rendered prompt. With `addGenerationPrompt` it ends with the assistant header, ready for
  /// the model to continue.
  public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
    var out = ""
    if let system = defaultSystemPrompt, let first = messages.first, first.role != "system" {
      out += Self.start + "system\n" + system + Self.end + "\n"
    }
    for message in messages {
      out += Self.start + message.role + "\n" + message.content + Self.end + "\n"
    }
    if addGenerationPrompt { out += Self.start + "assistant\n" }
    return out
  }

  /// The body of the first `<|im_start|>system` + newline ... `<|im_end|>` span that is a plain
  /// Jinja string literal (no unescaped quote, so no concatenated expression), unescaped.
  static func literalSystemPrompt(in template: String) -> String? {
    let opener = start + "system"
    var searchFrom = template.startIndex
    while let found = template[searchFrom...].firstRange(of: opener) {
      searchFrom = found.upperBound
      var bodyStart = found.upperBound
      // The newline after the role is a real newline or a Jinja escape "\n".
      if template[bodyStart...].hasPrefix("\n") {
        bodyStart = template.index(after: bodyStart)
      } else if template[bodyStart...].hasPrefix("\\n") {
        bodyStart = template.index(bodyStart, offsetBy: 2)
      } else {
        continue
      }
      guard let close = template[bodyStart...].firstRange(of: end) else { return nil }
      let body = template[bodyStart..<close.lowerBound]
      if hasUnescapedQuote(body) { continue }
      return unescapeJinja(body)
    }
    return nil
  }

  /// True when `s` ends a string literal somewhere (a quote not preceded by a backslash).
  static func hasUnescapedQuote(_ s: Substring) -> Bool {
    var escaped = false
    for c in s {
      if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "'" || c == "\"" { return true }
    }
    return false
  }

  /// Jinja (Python) string-literal escapes that can appear in a prompt: \n \t \\ \' \".
  static func unescapeJinja(_ s: Substring) -> String {
    var out = ""
    var escaped = false
    for c in s {
      if escaped {
        switch c {
        case "n": out.append("\n")
        case "t": out.append("\t")
        case "\\", "'", "\"": out.append(c)
        default: out.append("\\"); out.append(c)
        }
        escaped = false
      } else if c == "\\" {
        escaped = true
      } else {
        out.append(c)
      }
    }
    if escaped { out.append("\\") }
    return out
  }
}
