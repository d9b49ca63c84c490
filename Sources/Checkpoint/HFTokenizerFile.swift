import Foundation
import GGUF
import Tokenizer

/// A Hugging Face `tokenizer.json` (byte-level BPE) as the GGUF tokenizer keys that
/// `BPETokenizer` reads, as llama.cpp's converter writes them: the vocabulary by id (added tokens
/// included, padded to the model's vocabulary with `[PAD<id>]`), the merges, the token types
/// (special added tokens are control tokens, other added tokens user-defined) and the
/// pre-tokenizer's llama.cpp name, recognised from the file's pre-tokenizer: GPT-2's regex
/// (`gpt2`), digits isolated then GPT-2 (`smollm`), the Llama 3 split (`llama-bpe`) or the Qwen2
/// split after NFC (`qwen2`). Anything else is refused, naming what the file holds.
public struct HFTokenizerFile: Sendable {
  public var tokens: [String]
  public var tokenTypes: [Int]
  public var merges: [String]
  public var preName: String
  /// The id of the token the post-processor puts first (Llama 3's `<|begin_of_text|>`), if any.
  public var prependedID: Int?

  /// The split regexes of the Llama 3 and Qwen2 tokenizers, exactly as their tokenizer.json spell them.
  static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
  static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

  public init(path: String, vocabularySize: Int) throws(CheckpointError) {
    let root = try JSONObject.read(path)
    func bad(_ key: String, _ found: Any?, _ expected: String) -> CheckpointError {
      .invalid(path: path, key: key, found: JSONObject.describe(found), expected: expected)
    }
    guard let model = root["model"] as? [String: Any], (model["type"] as? String) == "BPE" else {
      throw bad("model.type", (root["model"] as? [String: Any])?["type"], "'BPE' (byte-level BPE)")
    }
    guard let vocab = model["vocab"] as? [String: NSNumber] else { throw bad("model.vocab", model["vocab"], "an object of token -> id") }
    var byID: [Int: (String, Int)] = [:]
    for (token, id) in vocab { byID[id.intValue] = (token, TokenizerMetadata.TokenType.normal.rawValue) }
    for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
      guard let id = (added["id"] as? NSNumber)?.intValue, let content = added["content"] as? String else {
        throw bad("added_tokens", added, "objects with an integer id and a content string")
      }
      byID[id] = (content, (added["special"] as? Bool) == true ? TokenizerMetadata.TokenType.control.rawValue : TokenizerMetadata.TokenType.userDefined.rawValue)
    }
    let count = max(vocabularySize, (byID.keys.max() ?? -1) + 1)
    tokens = (0..<count).map { byID[$0]?.0 ?? "[PAD\($0)]" }
    tokenTypes = (0..<count).map { byID[$0]?.1 ?? TokenizerMetadata.TokenType.unused.rawValue }
    // Merges: "a b" strings (older files) or [a, b] pairs.
    var list: [String] = []
    for item in model["merges"] as? [Any] ?? [] {
      if let s = item as? String { list.append(s) } else if let pair = item as? [String], pair.count == 2 { list.append(pair[0] + " " + pair[1]) } else {
        throw bad("model.merges", item, "\"left right\" strings or [left, right] pairs")
      }
    }
    merges = list
    // The pre-tokenizer, recognised as a whole.
    let normalizer = (root["normalizer"] as? [String: Any])?["type"] as? String
    let pre = root["pre_tokenizer"] as? [String: Any]
    let steps = (pre?["type"] as? String) == "Sequence" ? (pre?["pretokenizers"] as? [[String: Any]] ?? []) : (pre.map { [$0] } ?? [])
    func type(_ s: [String: Any]) -> String { s["type"] as? String ?? "?" }
    let byteLevelWithRegex = steps.last.map { type($0) == "ByteLevel" && ($0["use_regex"] as? Bool ?? true) } ?? false
    let split = steps.count == 2 && type(steps[0]) == "Split" && type(steps[1]) == "ByteLevel" && (usesRegex(steps[1]) == false)
      ? ((steps[0]["pattern"] as? [String: Any])?["Regex"] as? String) : nil
    let ignoreMerges = model["ignore_merges"] as? Bool ?? false
    if steps.count == 1 && byteLevelWithRegex && normalizer == nil {
      preName = "gpt2"
    } else if steps.count == 2 && type(steps[0]) == "Digits" && (steps[0]["individual_digits"] as? Bool) == true && byteLevelWithRegex && normalizer == nil {
      preName = "smollm"
    } else if split == Self.llama3Pattern && normalizer == nil {
      preName = "llama-bpe"
    } else if split == Self.qwen2Pattern && normalizer == "NFC" {
      preName = "qwen2"
    } else {
      throw bad("pre_tokenizer", steps.map(type).joined(separator: " + ") + (normalizer.map { " after \($0)" } ?? ""),
                "GPT-2's byte-level split, SmolLM2's (digits then byte-level), Llama 3's or Qwen2's (after NFC)")
    }
    // Llama 3 takes whole words that are in the vocabulary (ignore_merges); the others merge.
    guard ignoreMerges == (preName == "llama-bpe") else {
      throw bad("model.ignore_merges", ignoreMerges, "\(preName == "llama-bpe") for the \(preName) pre-tokenizer")
    }
    // The post-processor: nothing, ByteLevel (no change to the ids), or a TemplateProcessing that
    // puts one special token before the text (Llama 3's BOS), alone or in a Sequence beside
    // ByteLevel, as Llama 3's file has it. One that adds tokens elsewhere is refused: encoding
    // without them would differ from transformers.
    let post = root["post_processor"] as? [String: Any]
    let processors = post.map { type($0) == "Sequence" ? ($0["processors"] as? [[String: Any]] ?? []) : [$0] } ?? []
    var prepended: Int? = nil
    for processor in processors {
      switch type(processor) {
      case "ByteLevel": continue
      case "TemplateProcessing":
        let single = processor["single"] as? [[String: Any]] ?? []
        let shape = single.map { $0["SpecialToken"] != nil ? "special" : $0["Sequence"] != nil ? "text" : "?" }
        guard shape == ["text"] || shape == ["special", "text"] else {
          throw bad("post_processor.single", shape.joined(separator: " + "), "the text alone or one special token before it (a BOS)")
        }
        guard shape.count == 2 else { continue }
        guard let name = (single[0]["SpecialToken"] as? [String: Any])?["id"] as? String,
              let id = byID.first(where: { $0.value.0 == name })?.key else {
          throw bad("post_processor.single", single[0], "a special token of the vocabulary")
        }
        prepended = id
      default:
        throw bad("post_processor", processors.map(type).joined(separator: " + "), "none, ByteLevel or a TemplateProcessing that prepends a BOS")
      }
    }
    prependedID = prepended
  }

  /// The tokenizer keys of the GGUF file.
  func addMetadata(to writer: inout GGUFWriter, eosID: Int, bosID: Int?, chatTemplate: String?) throws(GGUFError) {
    try writer.addMetadata("tokenizer.ggml.model", .string("gpt2"))
    try writer.addMetadata("tokenizer.ggml.pre", .string(preName))
    try writer.addMetadata("tokenizer.ggml.tokens", .array(tokens.map { .string($0) }))
    try writer.addMetadata("tokenizer.ggml.token_type", .array(tokenTypes.map { .int32(Int32($0)) }))
    try writer.addMetadata("tokenizer.ggml.merges", .array(merges.map { .string($0) }))
    try writer.addMetadata("tokenizer.ggml.eos_token_id", .uint32(UInt32(eosID)))
    if let bos = prependedID ?? bosID { try writer.addMetadata("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos))) }
    try writer.addMetadata("tokenizer.ggml.add_bos_token", .bool(prependedID != nil))
    if let chatTemplate { try writer.addMetadata("tokenizer.chat_template", .string(chatTemplate)) }
  }
}

/// `use_regex` of a ByteLevel step (true when absent, as in `tokenizers`).
private func usesRegex(_ step: [String: Any]) -> Bool { step["use_regex"] as? Bool ?? true }
