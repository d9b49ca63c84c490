import Foundation
import GGUF
import Tokenizer

/// Where models live and how names map to files. The cache root is `$P2P_HOME` (default
/// `~/.cache/p2p`); `scripts/setup.sh` installs the default model into `<root>/models`.
public enum ModelStore {
  /// Built-in model names and their file names in the cache.
  public static let knownModels: [String: String] = ["smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf"]
  public static let defaultModel = "smollm2-135m"

  public static var home: String {
    ProcessInfo.processInfo.environment["P2P_HOME"] ?? (NSHomeDirectory() + "/.cache/p2p")
  }

  public static var modelDirectory: String { home + "/models" }

  /// Resolves a model name or a path to an existing GGUF file.
  public static func resolve(_ nameOrPath: String) throws(ModelError) -> String {
    if let file = knownModels[nameOrPath.lowercased()] {
      let path = modelDirectory + "/" + file
      guard FileManager.default.fileExists(atPath: path) else {
        throw .gguf(.cannotOpen(path: path, reason: "model '\(nameOrPath)' is not installed; run scripts/setup.sh (downloads and verifies it)"))
      }
      return path
    }
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDir) && isDir.boolValue {
      throw .gguf(.cannotOpen(path: nameOrPath, reason: "a directory without config.json; the model is a GGUF file, a Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer.json) or a known model name (\(knownModels.keys.sorted().joined(separator: ", ")))"))
    }
    guard FileManager.default.fileExists(atPath: nameOrPath) else {
      let names = knownModels.keys.sorted().joined(separator: ", ")
      throw .gguf(.cannotOpen(path: nameOrPath, reason: "no such file (and not a known model name: \(names))"))
    }
    return nameOrPath
  }
}

/// A model ready to use: the parsed file, the network, its tokenizer and chat template.
public struct ModelBundle: Sendable {
  public let path: String
  public let file: GGUFFile
  public let model: LlamaModel
  public let tokenizer: BPETokenizer
  public let chatTemplate: ChatTemplate?
  /// Why the file's chat template cannot be used (nil when it has none or it parsed).
  public let chatTemplateProblem: String?
  public let loadSeconds: Double

  /// `base`: how the projections and embeddings are held (`auto`: quantized above 2 GiB of fp32 weights).
  public static func load(_ nameOrPath: String, base: BaseWeights = .auto) throws -> ModelBundle {
    let path = try ModelStore.resolve(nameOrPath)
    let clock = ContinuousClock()
    let t0 = clock.now
    let file: GGUFFile
    do { file = try GGUFFile(path: path) } catch { throw ModelError.gguf(error) }
    return try ModelBundle(file: file, path: path, since: t0, base: base)
  }

  /// The model of an opened GGUF file (`path` names where it came from); the load time counts from `start`.
  public init(file: GGUFFile, path: String, since start: ContinuousClock.Instant, base: BaseWeights = .auto) throws {
    self.path = path
    self.file = file
    model = try LlamaModel(gguf: file, base: base)
    tokenizer = try BPETokenizer(gguf: file)
    if file.metadata[ChatTemplate.key] == nil {
      (chatTemplate, chatTemplateProblem) = (nil, nil)
    } else {
      do { (chatTemplate, chatTemplateProblem) = (try ChatTemplate(gguf: file, tokenizer: tokenizer), nil) } catch {
        (chatTemplate, chatTemplateProblem) = (nil, error.description)
      }
    }
    loadSeconds = (ContinuousClock().now - start).seconds
  }

  /// End-of-sequence ids: the tokenizer's eos plus the end-of-turn control tokens of the chat
  /// families (ChatML's `<|im_end|>`, Llama 3's `<|eot_id|>` and `<|eom_id|>`) when present.
  public var stopTokens: Set<Int> {
    var s: Set<Int> = [tokenizer.eosID]
    for id in tokenizer.controlTokenIDs where ["<|im_end|>", "<|eot_id|>", "<|eom_id|>"].contains(tokenizer.token(id)) { s.insert(id) }
    return s
  }
}
