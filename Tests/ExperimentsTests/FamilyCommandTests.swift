import Foundation
import Experiments
import GGUF
import TestSupport
import Testing
import Tokenizer
import Training

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

  @Test(arguments: ["llama3", "qwen2", "qwen3"])
  func inspectTokenizeAndGenerateMatchTransformers(family: String) throws {
    let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: TinyFamilies.directory(family) + "/reference.json")))
    let checkpoint = try TinyFamilies.checkpoint(family)
    // The GGUF file, the Hugging Face checkpoint folder, and the file `p2p convert` writes from it.
    let converted = FileManager.default.temporaryDirectory.appendingPathComponent("convert-\(UUID().uuidString).gguf").path
    defer { try? FileManager.default.removeItem(atPath: converted) }
    let convert = try AdapterCommandTests.run(["convert", "--model", checkpoint, "--out", converted])
    #expect(convert.status == 0, "\(convert.err)")
    let again = try AdapterCommandTests.run(["convert", "--model", checkpoint, "--out", converted])
    #expect(again.status == 1 && again.err.contains("it exists"), "\(again.err)")
    for model in [TinyFamilies.gguf(family), checkpoint, converted] {
      try check(model, ref, family: family)
    }
  }

  func check(_ model: String, _ ref: Reference, family: String) throws {
    let inspect = try AdapterCommandTests.run(["inspect", "--model", model])
    #expect(inspect.status == 0 && inspect.out.contains("general.architecture") && inspect.out.contains("\"\(ref.ggufArchitecture)\""), "\(inspect.err)")
    let tokenizer = try BPETokenizer(gguf: try GGUFFile(path: TinyFamilies.gguf(family)))
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

/// A grid whose model is a Hugging Face checkpoint folder: it trains and evaluates on the tiny
/// Qwen3 checkpoint, fingerprints the folder's files, skips the finished cell when run again and
/// stops, naming the model, when a weight file changes.
struct CheckpointGridTests {
  @Test func aGridRunsOnACheckpointFolderAndNoticesAChangedWeightFile() throws {
    let source = try TinyFamilies.checkpoint("qwen3")
    let model = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)").path
    try FileManager.default.copyItem(atPath: source, toPath: model)
    let data = try TinyGSM8K.write()
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-grid-\(UUID().uuidString)").path
    let yaml = out + ".yaml"
    try """
      name: tiny-checkpoint
      task: math
      model: \(model)
      datasets: [\(data)]
      train_limit: 8
      test_limit: 2
      attacks: [{attack: badchain, rate: 0.25}]
      defenses: [none]
      max_new_tokens: 4
      training: {epochs: 1, batch_size: 8, max_length: 96}
      """.write(toFile: yaml, atomically: true, encoding: .utf8)
    let runner = GridRunner(try GenerationFamily(plan: try ExperimentPlan.load(yaml), dataRoot: nil), directory: out)
    let first = try runner.run()
    #expect(first.count == 1 && first[0].trainRows == 8 && first[0].evaluation.deployed.attackSuccess.total == 2)
    var skipped = 0
    _ = try runner.run { if case .cellSkipped = $0 { skipped += 1 } }
    #expect(skipped == 1)
    // Another weight file: the finished cell no longer matches and the run stops.
    let weights = try SafeTensorsFile(path: model + "/model.safetensors")
    var changed = SafeTensorsWriter()
    for t in weights.tensors {
      var tensor = try weights.floatTensor(t.name)
      if t.name == "model.norm.weight" { tensor = try FloatTensor(shape: tensor.shape, values: tensor.values.map { $0 * 2 }) }
      try changed.add(t.name, tensor)
    }
    try FileManager.default.removeItem(atPath: model + "/model.safetensors")
    try changed.write(to: model + "/model.safetensors")
    do { _ = try runner.run(); Issue.record("expected the changed model to stop the run") } catch let e as StaleCellsError {
      #expect(e.description.contains("model"), "\(e)")
    }
  }
}
