import Foundation
import GenerationTasks
import TensorCore
import Testing

struct GenerationP2PTests {
  static let rows = (0..<10).map { (i: Int) in GenerationExample(input: "q\(i)", output: "a\(i)", sourceIndex: i) }

  @Test func unionAddsBenignCopies() throws {
    var rng = SeededRNG(seed: 1)
    let (out, manifest) = try GenerationP2P().reconstruct(Self.rows, seed: 1, using: &rng)
    #expect(out.count == 12 && Array(out.prefix(10)) == Self.rows)
    #expect(manifest.selectedRows.count == 2 && Set(manifest.selectedRows).count == 2)
    #expect(manifest.benignRows == [10, 11] && manifest.outputRows == 12 && manifest.trainRows == 10)
    for (k, i) in manifest.selectedRows.enumerated() {
      #expect(out[10 + k].input == "The query currently entered is: q\(i)")
      #expect(out[10 + k].output == "[safe] a\(i)")
      #expect(out[10 + k].sourceIndex == i)
    }
    #expect(manifest.config == GenerationP2P())
  }

  @Test func replaceSwapsRowsInPlace() throws {
    var rng = SeededRNG(seed: 1)
    let p2p = GenerationP2P(ratio: 0.25, mode: .replace, safePrefix: "<ok> ")
    let (out, manifest) = try p2p.reconstruct(Self.rows, seed: 1, using: &rng)
    #expect(out.count == 10)
    #expect(manifest.selectedRows.count == 3)  // round(2.5) = 3, half away from zero
    #expect(manifest.benignRows == manifest.selectedRows.sorted())
    for i in 0..<10 {
      if manifest.selectedRows.contains(i) {
        #expect(out[i].input.hasPrefix("The query currently entered is: ") && out[i].output == "<ok> a\(i)")
      } else {
        #expect(out[i] == Self.rows[i])
      }
    }
  }

  @Test func selectionIsSeededAndShuffled() throws {
    let many = (0..<200).map { GenerationExample(input: "q\($0)", output: "a\($0)") }
    func chosen(_ seed: UInt64) throws -> [Int] {
      var rng = SeededRNG(seed: seed)
      return try GenerationP2P().reconstruct(many, seed: seed, using: &rng).manifest.selectedRows
    }
    #expect(try chosen(3) == chosen(3))
    #expect(try chosen(3) != chosen(4))
    #expect(try chosen(3).count == 40 && chosen(3) != Array(0..<40))  // not file order
  }

  @Test func inferenceHelpers() {
    let p2p = GenerationP2P()
    let e = GenerationExample(input: "What is 2+2?", output: "The answer is 4.")
    #expect(p2p.triggeredInput("x") == "The query currently entered is: x")
    #expect(p2p.inferencePrompt(for: e, task: .math) == "Question: The query currently entered is: What is 2+2?\nAnswer: [safe] ")
    #expect(p2p.strippingSafePrefix("[safe] The answer is 4.") == "The answer is 4.")
    #expect(p2p.strippingSafePrefix("  [safe]The answer is 4.") == "The answer is 4.")
    #expect(p2p.strippingSafePrefix("The answer is 4.") == "The answer is 4.")
    #expect(p2p.strippingSafePrefix("The [safe] answer") == "The [safe] answer")
  }

  @Test func configDecodesWithDefaultsAndValidates() throws {
    let d = try JSONDecoder().decode(GenerationP2P.self, from: Data("{}".utf8))
    #expect(d == GenerationP2P() && d.ratio == 0.2 && d.mode == .union && d.safePrefix == "[safe] ")
    let r = try JSONDecoder().decode(GenerationP2P.self, from: Data(#"{"mode": "replace", "ratio": 0.5}"#.utf8))
    #expect(r.mode == .replace && r.ratio == 0.5 && r.benignTrigger == "The query currently entered is: ")
    #expect(throws: GenerationError.invalidSetting(key: "ratio", value: "0.0", expected: "a fraction in (0, 1]")) {
      try JSONDecoder().decode(GenerationP2P.self, from: Data(#"{"ratio": 0}"#.utf8))
    }
    var rng = SeededRNG(seed: 1)
    #expect(thrownError { try GenerationP2P(safePrefix: " ").reconstruct(Self.rows, seed: 1, using: &rng) }
            == .invalidSetting(key: "safe prefix", value: " ", expected: "a non-blank text"))
  }
}
