import Foundation
import GGUF
import Testing
import Tokenizer

/// The commands a user runs first on a new model family work on the tiny Llama 3, Qwen2 and Qwen3
/// GGUF files (Tests/LlamaTests/Fixtures/families): `inspect` names the architecture, `tokenize`
/// gives transformers' ids and `generate` transformers' greedy tokens.
struct FamilyCommandTests {
  struct Reference: Decodable {
    struct Case: Decodable { let prompt: String; let ids: [Int]; let greedy: [Int] }
    let ggufArchitecture: String
    let cases: [Case]
  }

  static let families = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../LlamaTests/Fixtures/families").standardizedFileURL

  @Test(arguments: ["llama3", "qwen2", "qwen3"])
  func inspectTokenizeAndGenerateMatchTransformers(family: String) throws {
    let dir = Self.families.appendingPathComponent(family), model = dir.appendingPathComponent("model.gguf").path
    let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
    let inspect = try AdapterCommandTests.run(["inspect", "--model", model])
    #expect(inspect.status == 0 && inspect.out.contains("general.architecture") && inspect.out.contains("\"\(ref.ggufArchitecture)\""), "\(inspect.err)")
    let tokenizer = try BPETokenizer(gguf: try GGUFFile(path: model))
    for c in ref.cases {
      let tokens = try AdapterCommandTests.run(["tokenize", "--model", model, c.prompt])
      #expect(tokens.status == 0, "\(tokens.err)")
      #expect(try JSONDecoder().decode([Int].self, from: Data(tokens.out.utf8)) == c.ids, "\(family) tokenize \(c.prompt.debugDescription)")
      let gen = try AdapterCommandTests.run(["generate", "--model", model, "--max-tokens", "\(c.greedy.count)", c.prompt])
      #expect(gen.status == 0, "\(gen.err)")
      // The streamed text is the decoded greedy tokens, special ones (Qwen3 greedy-decodes <|im_start|>) left out.
      #expect(gen.out.hasPrefix(tokenizer.decode(c.greedy, skipSpecial: true)), "\(family) generate \(c.prompt.debugDescription): \(gen.out.debugDescription)")
    }
  }
}
