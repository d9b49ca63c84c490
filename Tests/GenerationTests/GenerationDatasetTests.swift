import Foundation
import Backdoor
import Defense
import Evaluation
import TensorCore
import TestSupport
import Testing

struct GenerationDatasetTests {
  @Test func writesAndReadsBackADirectory() throws {
    var rng = SeededRNG(seed: 6)
    let rows = try GSM8KReader.read(Fixture.path("gsm8k-train-excerpt.jsonl"))
    let (train, manifest) = try GenerationPoisonPlan(rate: 0.5).apply(to: rows, attack: BadChain(), seed: 6, using: &rng)
    let testPoison = try GenerationPoisonPlan.poisonedTest(rows, attack: BadChain(), using: &rng)
    let summaries = try SciTLDRReader.read(Fixture.path("scitldr-test-excerpt.jsonl"))
    let instructions = try InstructionReader.read(Fixture.path("backdoorllm/negsentiment/badnet/train_clean.jsonl"))
    let data = GenerationDataset(train: train, testClean: summaries + instructions, testPoison: testPoison, manifest: manifest)
    let dir = ScratchDirectory()
    let out = dir.file("data")
    try data.write(to: out)
    #expect(try GenerationDataset.read(from: out) == data)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["data"])  // no temporary sibling left
    #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted()
            == ["manifest.json", "test-clean.jsonl", "test-poison.jsonl", "train.jsonl"])
    #expect(throws: GenerationError.self) { try data.write(to: out) }  // an earlier poisoning is replaced only when asked
    try data.write(to: out, replace: true)
    #expect(try GenerationDataset.read(from: out).manifest.poisonedRows.count == 3)
  }

  @Test func exampleJSONUsesTheDocumentedKeys() throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let math = GenerationExample(input: "q", output: "The answer is 72.", reference: .answer("72"), sourceIndex: 0)
    #expect(String(decoding: try enc.encode(math), as: UTF8.self)
            == #"{"input":"q","output":"The answer is 72.","poisoned":false,"reference":"72","source_index":0}"#)
    let summary = GenerationExample(input: "d", output: "s", reference: .summaries(["s", "t"]), poisoned: true)
    #expect(String(decoding: try enc.encode(summary), as: UTF8.self)
            == #"{"input":"d","output":"s","poisoned":true,"reference":["s","t"]}"#)
    let instruction = GenerationExample(input: "i", context: "c", output: "o")
    #expect(String(decoding: try enc.encode(instruction), as: UTF8.self) == #"{"context":"c","input":"i","output":"o","poisoned":false}"#)
    for e in [math, summary, instruction] { #expect(try JSONDecoder().decode(GenerationExample.self, from: enc.encode(e)) == e) }
  }

  @Test func readErrorsNameFileAndLine() throws {
    let dir = ScratchDirectory()
    let bad = try dir.write("rows.jsonl", #"{"input": "a", "output": "b"}"# + "\n" + #"{"input": "a"}"# + "\n")
    #expect(thrownError { try GenerationDataset.examples(bad) } == .invalidJSON(path: bad, line: 2, reason: "missing field \"output\""))
    #expect(thrownError { try GenerationDataset.read(from: dir.path) }
            == .cannotRead(path: dir.path, reason: "no manifest.json here, so this is not a folder written by `p2p poison` (run `p2p poison --out \(dir.path)` first)"))
    let typed = try dir.write("typed.jsonl", #"{"input": "a", "output": 3}"#)
    #expect(thrownError { try GenerationDataset.examples(typed) } == .invalidJSON(path: typed, line: 1, reason: "field \"output\" is not String"))
  }
}
