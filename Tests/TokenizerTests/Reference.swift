import Foundation
import GGUF
import Testing
import Tokenizer

/// The real model and the transformers fixtures (`scripts/fixtures/tokenizer_fixtures.py`).
enum Reference {
  static let modelName = "SmolLM2-135M-Instruct.Q4_1.gguf"

  /// `$P2P_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf`, P2P_HOME defaulting to ~/.cache/p2p.
  static var modelPath: String {
    let env = ProcessInfo.processInfo.environment
    let home = env["P2P_HOME"] ?? (NSHomeDirectory() + "/.cache/p2p")
    return home + "/models/" + modelName
  }

  static var modelAvailable: Bool { FileManager.default.fileExists(atPath: modelPath) }

  /// The tokenizer of the real model, loaded once (nil when the model is absent or broken).
  static let tokenizer: BPETokenizer? = {
    guard modelAvailable, let file = try? GGUFFile(path: modelPath) else { return nil }
    return try? BPETokenizer(gguf: file)
  }()

  static func loadTokenizer() throws -> BPETokenizer {
    try #require(tokenizer, "could not build the tokenizer from \(modelPath)")
  }

  struct Fixture: Decodable {
    struct Case: Decodable {
      let text: String
      let ids: [Int]
      let decoded: String
      let idsSplitSpecial: [Int]?
      let decodedSkipSpecial: String?
    }
    struct DecodeCase: Decodable {
      let ids: [Int]
      let skipSpecial: Bool
      let text: String
    }
    struct ChatCase: Decodable {
      let messages: [ChatMessage]
      let addGenerationPrompt: Bool
      let text: String
    }
    let transformers: String
    let modelSHA256: String
    /// `tok.chat_template` (the GGUF's `tokenizer.chat_template`).
    let chatTemplate: String
    let cases: [Case]
    let decodeCases: [DecodeCase]
    let chatCases: [ChatCase]
  }

  static func fixture() throws -> Fixture {
    let url = try #require(
      Bundle.module.url(forResource: "tokenizer", withExtension: "json", subdirectory: "Fixtures"),
      "Fixtures/tokenizer.json is missing: run scripts/fixtures/tokenizer_fixtures.py")
    return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
  }

  /// First `count` sentences of SST-2's test split shipped in the repository
  /// (`Data/sst2/test.tsv`), nil when it is not there.
  static func sst2Sentences(_ count: Int) -> [String]? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let url = root.appendingPathComponent("Data/sst2/test.tsv")
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
    let rows = text.split(separator: "\n").dropFirst().prefix(count)
    return rows.map { String($0.split(separator: "\t", omittingEmptySubsequences: false)[0]) }
  }

  static var sst2Available: Bool { sst2Sentences(1) != nil }
}

/// Exact comparison by Unicode scalars (Swift's `==` on strings uses canonical equivalence, so
/// "e\u{301}" == "é" would hide a difference).
func sameScalars(_ a: String, _ b: String) -> Bool {
  a.unicodeScalars.elementsEqual(b.unicodeScalars)
}
