/// One turn of a conversation, as passed to a chat template (`{"role": ..., "content": ...}` in
/// transformers' `apply_chat_template`).
public struct ChatMessage: Sendable, Codable, Equatable, Hashable {
  /// "system", "user" or "assistant" (any string is rendered as given).
  public var role: String
  public var content: String

  public init(role: String, content: String) { self.role = role; self.content = content }
}
