import GGUF

/// The tokenizer description stored in a GGUF file under llama.cpp's key names, read and checked
/// before any of it is used: types, array lengths and special-token ids are validated here so
/// that building the tokenizer cannot fail on bad indices later.
public struct TokenizerMetadata: Sendable, Equatable {
  /// llama.cpp's token kinds (`tokenizer.ggml.token_type`).
  public enum TokenType: Int, Sendable {
    case undefined = 0, normal, unknown, control, userDefined, unused, byte
  }

  public static let modelKey = "tokenizer.ggml.model"
  public static let preKey = "tokenizer.ggml.pre"
  public static let tokensKey = "tokenizer.ggml.tokens"
  public static let tokenTypeKey = "tokenizer.ggml.token_type"
  public static let mergesKey = "tokenizer.ggml.merges"
  public static let bosKey = "tokenizer.ggml.bos_token_id"
  public static let eosKey = "tokenizer.ggml.eos_token_id"
  public static let padKey = "tokenizer.ggml.padding_token_id"
  public static let unknownKey = "tokenizer.ggml.unknown_token_id"
  public static let addBOSKey = "tokenizer.ggml.add_bos_token"

  /// Vocabulary entries as the file spells them, indexed by id.
  public var tokens: [String]
  /// Raw token kind per id (unknown kinds are kept as numbers; only 3 and 4 matter here).
  public var tokenTypes: [Int]
  /// Merges in priority order, each "left right".
  public var merges: [String]
  /// `tokenizer.ggml.pre`, nil when absent.
  public var preTokenizerName: String?
  public var bosID: Int?
  public var eosID: Int
  public var padID: Int?
  public var unknownID: Int?
  public var addsBOS: Bool

  public init(
    tokens: [String], tokenTypes: [Int], merges: [String], preTokenizerName: String?,
    bosID: Int?, eosID: Int, padID: Int?, unknownID: Int?, addsBOS: Bool
  ) {
    self.tokens = tokens; self.tokenTypes = tokenTypes; self.merges = merges; self.preTokenizerName = preTokenizerName
    self.bosID = bosID; self.eosID = eosID; self.padID = padID; self.unknownID = unknownID; self.addsBOS = addsBOS
  }

  /// Reads and validates the tokenizer keys of `gguf`.
  ///
  /// Requirements: `tokenizer.ggml.model` is "gpt2" (byte-level BPE); tokens is a non-empty
  /// string array; merges is a string array (needed by BPE); token_type, when present, has one
  /// integer per token (absent: every token is normal); the eos id is present and every given
  /// special id indexes the vocabulary; add_bos_token, when present, is a bool (absent: false,
  /// as in transformers' GPT-2 tokenizer).
  public init(gguf: GGUFFile) throws(TokenizerError) {
    let meta = gguf.metadata
    let model = try Self.string(meta, Self.modelKey)
    guard model == "gpt2" else {
      throw .unsupportedModel(key: Self.modelKey, found: model, expected: "byte-level BPE ('gpt2')")
    }
    tokens = try Self.stringArray(meta, Self.tokensKey)
    guard !tokens.isEmpty else { throw .emptyVocabulary(key: Self.tokensKey) }
    merges = try Self.stringArray(meta, Self.mergesKey)
    if meta[Self.tokenTypeKey] != nil {
      tokenTypes = try Self.intArray(meta, Self.tokenTypeKey)
      guard tokenTypes.count == tokens.count else {
        throw .countMismatch(key: Self.tokenTypeKey, count: tokenTypes.count, expected: tokens.count)
      }
    } else {
      tokenTypes = [Int](repeating: TokenType.normal.rawValue, count: tokens.count)
    }
    preTokenizerName = meta[Self.preKey] == nil ? nil : try Self.string(meta, Self.preKey)
    let size = tokens.count
    guard let eos = try Self.tokenID(meta, Self.eosKey, vocabularySize: size) else { throw .missingKey(Self.eosKey) }
    eosID = eos
    bosID = try Self.tokenID(meta, Self.bosKey, vocabularySize: size)
    padID = try Self.tokenID(meta, Self.padKey, vocabularySize: size)
    unknownID = try Self.tokenID(meta, Self.unknownKey, vocabularySize: size)
    if let value = meta[Self.addBOSKey] {
      guard let flag = value.bool else { throw .wrongValueType(key: Self.addBOSKey, expected: "bool", found: value.typeName) }
      addsBOS = flag
    } else {
      addsBOS = false
    }
  }

  // MARK: Typed access with errors that name the key

  static func string(_ meta: [String: MetadataValue], _ key: String) throws(TokenizerError) -> String {
    guard let value = meta[key] else { throw .missingKey(key) }
    guard let s = value.string else { throw .wrongValueType(key: key, expected: "string", found: value.typeName) }
    return s
  }

  static func stringArray(_ meta: [String: MetadataValue], _ key: String) throws(TokenizerError) -> [String] {
    try array(meta, key, of: "strings", \.string)
  }

  static func intArray(_ meta: [String: MetadataValue], _ key: String) throws(TokenizerError) -> [Int] {
    try array(meta, key, of: "integers", \.int)
  }

  /// The array under `key` with every element converted by `element` (`elements` names the
  /// element type in errors, e.g. "strings").
  private static func array<Element>(
    _ meta: [String: MetadataValue], _ key: String, of elements: String, _ element: (MetadataValue) -> Element?
  ) throws(TokenizerError) -> [Element] {
    guard let value = meta[key] else { throw .missingKey(key) }
    guard let array = value.array else {
      throw .wrongValueType(key: key, expected: "array of \(elements)", found: value.typeName)
    }
    var out: [Element] = []
    out.reserveCapacity(array.count)
    for item in array {
      guard let converted = element(item) else {
        throw .wrongValueType(key: key, expected: "array of \(elements)", found: "array of \(item.typeName)")
      }
      out.append(converted)
    }
    return out
  }

  /// An optional token id: nil when absent, an error when not an integer or out of range.
  static func tokenID(_ meta: [String: MetadataValue], _ key: String, vocabularySize: Int) throws(TokenizerError) -> Int? {
    guard let value = meta[key] else { return nil }
    guard let id = value.int else { throw .wrongValueType(key: key, expected: "integer", found: value.typeName) }
    guard id >= 0 && id < vocabularySize else { throw .tokenIDOutOfRange(key: key, id: id, vocabularySize: vocabularySize) }
    return id
  }
}
