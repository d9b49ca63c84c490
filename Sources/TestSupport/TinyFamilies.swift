import Foundation

/// The tiny Llama 3, Qwen2 and Qwen3 reference models of Tests/LlamaTests/Fixtures/families
/// (scripts/fixtures/tiny_families.py). The repository keeps model files out of git by their
/// suffixes, so the fixtures are stored as `model.gguf.bin` and `hf/model.safetensors.bin`;
/// `checkpoint` gives a Hugging Face folder with its real file names.
public enum TinyFamilies {
  public static let names = ["llama3", "qwen2", "qwen3"]

  public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../Tests/LlamaTests/Fixtures/families").standardizedFileURL.path

  /// The family's fixture folder (reference.json, lora.json, model.gguf.bin, hf/).
  public static func directory(_ family: String) -> String { root + "/" + family }

  /// The family's GGUF file (written with llama.cpp's conventions).
  public static func gguf(_ family: String) -> String { directory(family) + "/model.gguf.bin" }

  private static let lock = NSLock()
  nonisolated(unsafe) private static var copies: [String: String] = [:]

  /// The family's Hugging Face checkpoint as a folder with `model.safetensors`: the fixture's
  /// files copied once per test process into a temporary folder.
  public static func checkpoint(_ family: String) throws -> String {
    lock.lock(); defer { lock.unlock() }
    if let dir = copies[family] { return dir }
    let fm = FileManager.default, source = directory(family) + "/hf"
    let dir = fm.temporaryDirectory.appendingPathComponent("p2p-\(family)-checkpoint-\(UUID().uuidString)").path
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for name in try fm.contentsOfDirectory(atPath: source) {
      try fm.copyItem(atPath: source + "/" + name, toPath: dir + "/" + (name.hasSuffix(".safetensors.bin") ? String(name.dropLast(4)) : name))
    }
    copies[family] = dir
    return dir
  }
}
