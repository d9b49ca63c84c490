import Foundation
import TestSupport
import Testing
import TensorCore
import Training

/// Reading prompt–completion JSONL, and the specific error for every kind of bad line.
@Suite struct JSONLReaderTests {
  @Test func readsExamplesSkippingBlankLines() throws {
    let dir = ScratchDirectory()
    let text = "\u{FEFF}{\"prompt\": \"a film\\nOutput: \", \"completion\": \"1\", \"label\": 1}\r\n"
      + "\n   \n"
      + "{\"completion\": \"é ✓\", \"prompt\": \"\"}\n"
      + "{\"prompt\":\"x\",\"completion\":\"\\u0000\\\"q\\\"\"}"  // no final newline
    let path = try dir.write("data.jsonl", text)
    let examples = try JSONLReader.readPromptCompletions(path: path)
    #expect(examples == [
      PromptCompletion(prompt: "a film\nOutput: ", completion: "1"),
      PromptCompletion(prompt: "", completion: "é ✓"),
      PromptCompletion(prompt: "x", completion: "\u{0}\"q\""),
    ])
  }

  @Test(arguments: [
    ("{\"prompt\": \"a\", \"completion\": \"b\"\n", "invalid JSON"),
    ("[1, 2]\n", "not an object"),
    ("\"just a string\"\n", "not an object"),
    ("{\"completion\": \"b\"}\n", "missing prompt"),
    ("{\"prompt\": \"a\"}\n", "missing completion"),
    ("{\"prompt\": 3, \"completion\": \"b\"}\n", "prompt number"),
    ("{\"prompt\": \"a\", \"completion\": null}\n", "completion null"),
    ("{\"prompt\": \"a\", \"completion\": [\"b\"]}\n", "completion array"),
    ("{\"prompt\": \"a\", \"completion\": \"\"}\n", "empty completion"),
  ])
  func reportsBadLine(line: String, what: String) throws {
    let dir = ScratchDirectory()
    let good = "{\"prompt\": \"p\", \"completion\": \"c\"}\n"
    let path = try dir.write("bad.jsonl", good + "\n" + line + good)
    let error = thrownTrainingError { try JSONLReader.readPromptCompletions(path: path) }
    let expected: TrainingError? = switch what {
    case "missing prompt": .missingKey(path: path, line: 3, key: "prompt")
    case "missing completion": .missingKey(path: path, line: 3, key: "completion")
    case "prompt number": .wrongType(path: path, line: 3, key: "prompt", expected: "a string", found: "a number")
    case "completion null": .wrongType(path: path, line: 3, key: "completion", expected: "a string", found: "null")
    case "completion array": .wrongType(path: path, line: 3, key: "completion", expected: "a string", found: "an array")
    case "empty completion": .emptyValue(path: path, line: 3, key: "completion")
    default: nil
    }
    if let expected {
      #expect(error == expected)
    } else {
      guard case let .invalidJSON(p, lineNumber, reason) = error else {
        Issue.record("expected invalidJSON, got \(String(describing: error))")
        return
      }
      #expect(p == path && lineNumber == 3)
      if what == "not an object" { #expect(reason.contains("expected an object")) }
    }
    // The message names the file and the line.
    #expect(error?.description.contains("\(path):3") == true)
  }

  @Test func invalidUTF8IsReported() throws {
    let dir = ScratchDirectory()
    let bytes = Array("{\"prompt\": \"".utf8) + [0xFF, 0xFE] + Array("\", \"completion\": \"c\"}\n".utf8)
    let path = try dir.write("latin1.jsonl", bytes: bytes)
    #expect(thrownTrainingError { try JSONLReader.readPromptCompletions(path: path) }
      == .invalidJSON(path: path, line: 1, reason: "the line is not valid UTF-8"))
  }

  @Test func emptyAndMissingFiles() throws {
    let dir = ScratchDirectory()
    let empty = try dir.write("empty.jsonl", "\n \n\r\n")
    #expect(thrownTrainingError { try JSONLReader.readPromptCompletions(path: empty) } == .emptyDataset(path: empty))
    let missing = dir.file("nope.jsonl")
    guard case .cannotRead(missing, _)? = thrownTrainingError({ try JSONLReader.readPromptCompletions(path: missing) }) else {
      Issue.record("a missing file must give cannotRead")
      return
    }
  }

  /// Garbage never crashes the reader: random bytes and deeply nested JSON give an error.
  @Test func garbageGivesErrors() throws {
    var rng = SeededRNG(seed: 7)
    for _ in 0..<200 {
      let bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      _ = try? JSONLReader.parsePromptCompletions(Data(bytes), path: "fuzz")
    }
    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    #expect(thrownTrainingError { try JSONLReader.parsePromptCompletions(Data(deep.utf8), path: "deep") } != nil)
  }
}
