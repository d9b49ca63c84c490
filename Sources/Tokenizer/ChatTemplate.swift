import Foundation
import GGUF
import Jinja

/// A model's chat template (`tokenizer.chat_template`, a Jinja program), rendered exactly as
/// transformers' `apply_chat_template(messages, tokenize=False, add_generation_prompt:)` renders
/// it: the variables `messages`, `tools` (None), `documents` (None), `add_generation_prompt`,
/// `bos_token` and `eos_token` (the spellings of the tokenizer's BOS and EOS), plus any extra
/// variables a caller passes (`enable_thinking` for Qwen3, `date_string` for Llama 3).
/// Checked against transformers on the templates of SmolLM2, Llama 3.1/3.2, Qwen2.5 and Qwen3
/// (Tests/TokenizerTests/Fixtures/chat-templates).
public struct ChatTemplate: Sendable, Equatable {
  public static let key = "tokenizer.chat_template"

  /// The template source as stored in the file.
  public let source: String
  public let bosToken: String?
  public let eosToken: String?
  private let template: JinjaTemplate

  /// Reads `tokenizer.chat_template` from `gguf`; BOS and EOS come from `tokenizer` (built from
  /// the same file when not given).
  public init(gguf: GGUFFile, tokenizer: BPETokenizer? = nil) throws(TokenizerError) {
    guard let value = gguf.metadata[Self.key] else { throw .missingKey(Self.key) }
    guard let source = value.string else { throw .wrongValueType(key: Self.key, expected: "string", found: value.typeName) }
    let tokens: BPETokenizer
    if let tokenizer { tokens = tokenizer } else { tokens = try BPETokenizer(gguf: gguf) }
    try self.init(template: source, bosToken: tokens.bosID.flatMap(tokens.token), eosToken: tokens.token(tokens.eosID))
  }

  /// Parses a template source (the value of `tokenizer.chat_template` or of `chat_template` in
  /// `tokenizer_config.json`).
  public init(template: String, bosToken: String? = nil, eosToken: String? = nil) throws(TokenizerError) {
    do { self.template = try JinjaTemplate(template) } catch {
      throw .unsupportedChatTemplate(key: Self.key, reason: error.description)
    }
    source = template
    self.bosToken = bosToken
    self.eosToken = eosToken
  }

  /// The rendered prompt. With `addGenerationPrompt` it ends with the assistant header, ready for
  /// the model to continue. `clock` is the date `strftime_now` gives (Llama 3.2 prints it).
  public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, variables: [String: JinjaValue] = [:],
                     clock: JinjaClock = JinjaClock(Date())) throws(TokenizerError) -> String {
    var context: [String: JinjaValue] = [
      "messages": .array(messages.map { .object(JinjaObject([("role", .string($0.role)), ("content", .string($0.content))])) }),
      "tools": .none, "documents": .none, "add_generation_prompt": .bool(addGenerationPrompt),
    ]
    if let bosToken { context["bos_token"] = .string(bosToken) }
    if let eosToken { context["eos_token"] = .string(eosToken) }
    context.merge(variables) { _, new in new }
    do { return try template.render(context, clock: clock) } catch { throw .chatTemplateFailed(reason: error.description) }
  }

  public static func == (a: ChatTemplate, b: ChatTemplate) -> Bool {
    a.source == b.source && a.bosToken == b.bosToken && a.eosToken == b.eosToken
  }
}
