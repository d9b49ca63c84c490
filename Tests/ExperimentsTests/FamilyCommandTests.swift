import Foundation
import GGUF
import Testing
import Tokenizer

/// The commands a user runs first on a new model family work on the tiny Llama 3, Qwen2 and Qwen3
/// GGUF files (Tests/LlamaTests/Fixtures/families): `inspect` names the architecture, `tokenize`
/// gives transformers' ids and `generate` transformers' greedy tokens; the same from their Hugging
/// Face checkpoint folders and from the GGUF file `p2p convert` writes of them.
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
    let dir = Self.families.appendingPathComponent(family)
    let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
    // The GGUF file, the Hugging Face checkpoint folder, and the file `p2p convert` writes from it.
    let converted = FileManager.default.temporaryDirectory.appendingPathComponent("convert-\(UUID().uuidString).gguf").path
    let convert = try AdapterCommandTests.run(["convert", "--model", dir.appendingPathComponent("hf").path, "--out", converted])
    #expect(convert.status == 0, "\(convert.err)")
    let again = try AdapterCommandTests.run(["convert", "--model", dir.appendingPathComponent("hf").path, "--out", converted])
    #expect(again.status == 1 && again.err.contains("it exists"), "\(again.err)")
    for model in [dir.appendingPathComponent("model.gguf").path, dir.appendingPathComponent("hf").path, converted] {
      try check(model, ref, family: family)
    }
  }

  func check(_ model: String, _ ref: Reference, family: String) throws {
    let inspect = try AdapterCommandTests.run(["inspect", "--model", model])
    #expect(inspect.status == 0 && inspect.out.contains("general.architecture") && inspect.out.contains("\"\(ref.ggufArchitecture)\""), "\(inspect.err)")
    let tokenizer = try BPETokenizer(gguf: try GGUFFile(path: Self.families.appendingPathComponent(family + "/model.gguf").path))
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
