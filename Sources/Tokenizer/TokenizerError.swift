/// Everything that can be wrong with the tokenizer metadata of a GGUF file. Each case names the
/// metadata key and says what was found and what was expected, so a user can tell a truncated or
/// hand-edited file from a model whose tokenizer is not supported yet.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A required key is absent.
  case missingKey(String)
  /// A key holds a value of the wrong type (`found` is the GGUF type name, e.g. "uint32").
  case wrongValueType(key: String, expected: String, found: String)
  /// `tokenizer.ggml.model` names a tokenizer other than byte-level BPE.
  case unsupportedModel(key: String, found: String, expected: String)
  /// `tokenizer.ggml.pre` names a pre-tokenizer whose split regex differs from GPT-2's.
  case unsupportedPreTokenizer(key: String, found: String)
  /// An array that must not be empty is empty.
  case emptyVocabulary(key: String)
  /// An array whose length must match the vocabulary has another length.
  case countMismatch(key: String, count: Int, expected: Int)
  /// A special-token id does not index the vocabulary.
  case tokenIDOutOfRange(key: String, id: Int, vocabularySize: Int)
  /// A merge is not two tokens separated by one space.
  case malformedMerge(key: String, index: Int, merge: String)
  /// A merge names a token (or produces a token) that is not in the vocabulary.
  case unknownMergeToken(key: String, index: Int, token: String)
  /// The chat template is not one this module can render.
  case unsupportedChatTemplate(key: String, reason: String)
  /// The chat template failed on these messages (it raised an error, or used a value wrongly).
  case chatTemplateFailed(reason: String)

  public var description: String {
    switch self {
    case let .missingKey(key): return "required tokenizer metadata key '\(key)' is missing"
    case let .wrongValueType(key, expected, found): return "tokenizer metadata '\(key)' is \(found), expected \(expected)"
    case let .unsupportedModel(key, found, expected):
      return "'\(key)' is '\(found)'; only \(expected) tokenizers are supported"
    case let .unsupportedPreTokenizer(key, found):
      return "'\(key)' is '\(found)', a pre-tokenizer with its own split regex; only GPT-2-style pre-tokenizers are supported"
    case let .emptyVocabulary(key): return "tokenizer metadata '\(key)' is an empty array"
    case let .countMismatch(key, count, expected):
      return "tokenizer metadata '\(key)' has \(count) entries, expected \(expected) (one per token)"
    case let .tokenIDOutOfRange(key, id, size):
      return "tokenizer metadata '\(key)' is \(id), outside the vocabulary of \(size) tokens"
    case let .malformedMerge(key, index, merge):
      return "merge #\(index) of '\(key)' is \"\(merge)\", expected two tokens separated by one space"
    case let .unknownMergeToken(key, index, token):
      return "merge #\(index) of '\(key)' uses the token \"\(token)\", which is not in the vocabulary"
    case let .unsupportedChatTemplate(key, reason): return "chat template '\(key)' is not supported: \(reason)"
    case let .chatTemplateFailed(reason): return "the chat template could not render these messages: \(reason)"
    }
  }
}
